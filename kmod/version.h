/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LM_VERSION_H
#define _LM_VERSION_H

#define LM_MODULE_VERSION "0.1.0"

#endif /* _LM_VERSION_H */
