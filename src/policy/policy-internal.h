/* SPDX-License-Identifier: BSD-2-Clause */
/* Internals shared by the src/policy/ files; not a public interface. */
#pragma once

#include "berth/policy.h"

void policy_origin_copy(struct policy_origin *dst, const struct policy_origin *src);
void policy_value_clear(struct policy_value *v);
void policy_value_copy(struct policy_value *dst, const struct policy_value *src);
void policy_dir_rule_clear(struct policy_dir_rule *r);
void policy_filter_rule_clear(struct policy_filter_rule *r);
/* Insert or replace (same path) keeping longest-path-first order; takes @r's contents. */
void policy_put_dir_rule(struct policy *p, struct policy_dir_rule *r);
void policy_put_filter_rule(struct policy *p, struct policy_filter_rule *r);
/* Canonical absolute directory path of @text ("/a//b/./" -> "/a/b"); -EINVAL for relative
 * paths, ".." components, NUL-free but over-long paths. Caller frees *ret. */
int policy_canon_dir(const char *text, char **ret);
