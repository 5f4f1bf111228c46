package mapping

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Cache keeps compiled rules keyed by (UID, generation), so that building a Mapper from unchanged
// rules compiles nothing. A rule's spec must not change without its generation or UID changing, as
// the API server guarantees (a re-created object gets a new UID and starts at generation 1 again). The zero value is ready to use; it is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	rules   map[string]cachedRule
	mappers map[string]*Mapper // by the rule set's key, see mapperKey
	// compiles counts rule compilations, for tests.
	compiles int
}

type cachedRule struct {
	uid        string
	generation int64
	rule       *compiledRule
	errs       []error
}

// Get returns the Mapper for rules, compiling only rules not seen at their UID and generation. Compile
// errors are cached as well and returned joined, as by Compile.
func (c *Cache) Get(rules []NamedRule) (*Mapper, error) {
	if len(rules) == 0 {
		return Compile(nil)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rules == nil {
		c.rules = make(map[string]cachedRule)
		c.mappers = make(map[string]*Mapper)
	}
	key := mapperKey(rules)
	if m, ok := c.mappers[key]; ok {
		return m, nil
	}
	compiled := make([]*compiledRule, 0, len(rules))
	var errs []error
	for _, r := range rules {
		e, ok := c.rules[r.Name]
		if !ok || e.uid != r.UID || e.generation != r.Generation {
			cr, rerrs := compileRule(r)
			c.compiles++
			e = cachedRule{uid: r.UID, generation: r.Generation, rule: cr, errs: rerrs}
			if ok {
				// Mappers built from the old rule are stale.
				clear(c.mappers)
			}
			c.rules[r.Name] = e
		}
		errs = append(errs, e.errs...)
		compiled = append(compiled, e.rule)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m, err := newMapper(compiled)
	if err != nil {
		return nil, err
	}
	c.mappers[key] = m
	return m, nil
}

// Delete drops a rule (e.g. when the MappingRule is deleted) and the Mappers built from it.
func (c *Cache) Delete(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.rules[name]; ok {
		delete(c.rules, name)
		clear(c.mappers)
	}
}

// mapperKey identifies a rule set by its names, UIDs and generations in the given order (the Mapper sorts
// rules itself, so a different order only costs a cheap rebuild).
func mapperKey(rules []NamedRule) string {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "%q/%q/%d,", r.Name, r.UID, r.Generation)
	}
	return b.String()
}
