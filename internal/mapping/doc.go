// Package mapping compiles MappingRules (CEL expressions, attribute copies, lookup tables, defaults
// and scopes) and applies them to directory records to produce target users.
//
// Semantics beyond the API documentation:
//   - Rules are ordered by priority (highest first), then name. A record is in scope when any rule's
//     scope matches; each field comes from the first in-scope rule that maps it, even if its value is
//     empty (no fallback to lower rules).
//   - A disabled record is out of scope when any rule whose scope matches it has includeDisabled=false.
//   - A scope that fails to evaluate skips the record (ExpressionError) rather than putting it out of
//     scope, so an expression bug never offboards anyone.
//   - Attribute names are matched case-insensitively (exact name first), in from and in
//     record.attrs / record.values. Attributes without values count as missing.
//   - A lookup is not applied to an empty value, so default and required apply to it instead.
//   - groups: from takes all values of the attribute; an expression may return a string or a list;
//     lookups translate each element; the result is deduplicated and sorted, empty names dropped.
//   - active: from, lookup and default values are parsed as bools (true/false/TRUE/1/0...); unmapped,
//     it is !record.disabled.
//   - userName is required even without required: true. Output strings are made valid UTF-8.
package mapping
