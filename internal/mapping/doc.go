// Package mapping compiles MappingRules (CEL expressions, attribute copies, lookup tables, defaults
// and scopes) and applies them to directory records to produce target users.
package mapping
