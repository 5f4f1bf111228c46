// Package ldap reads people from an LDAP directory (OpenLDAP, Active Directory, ...) into model
// records. It implements directory.Source and knows nothing about Kubernetes.
package ldap

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// Search scopes.
const (
	ScopeSub  = "sub"
	ScopeOne  = "one"
	ScopeBase = "base"
)

// Group membership modes.
const (
	GroupsNone      = "none"
	GroupsMemberOf  = "memberOf"  // the user's memberOf attribute (direct memberships)
	GroupsInChain   = "inChain"   // AD LDAP_MATCHING_RULE_IN_CHAIN, nested memberships
	GroupsRecursive = "recursive" // read groups and expand member/uniqueMember, nested memberships
)

// Disabled account conventions.
const (
	DisabledNone            = "none"
	DisabledActiveDirectory = "activeDirectory" // userAccountControl has ACCOUNTDISABLE (0x2)
	DisabledAttribute       = "attribute"       // Attribute present, or equal to Value when set
)

// Defaults applied by Config.withDefaults.
const (
	DefaultIDAttribute   = "entryUUID"
	DefaultPageSize      = 500
	DefaultTimeout       = 30 * time.Second
	DefaultNameAttribute = "cn"
	DefaultUserFilter    = "(objectClass=*)"
	// ADUserFilter selects people in Active Directory: user objects whose category is person, so
	// computer accounts (objectClass=user too) are left out.
	ADUserFilter = "(&(objectCategory=person)(objectClass=user))"
)

// Config describes how to reach a directory and which entries and attributes to read.
type Config struct {
	URL                string // ldap://host:389 or ldaps://host:636
	StartTLS           bool   // upgrade an ldap:// connection with StartTLS
	CACertPEM          []byte // trusted CAs; the system pool when empty
	InsecureSkipVerify bool
	ServerName         string // TLS server name; the URL's host when empty

	BindDN       string // empty for an anonymous bind
	BindPassword string

	BaseDN     string
	Scope      string // sub (default), one or base
	UserFilter string // the admin's filter, e.g. (objectClass=inetOrgPerson); AND-ed with generated parts
	// Attributes are the attributes to fetch; records key them by these names. When empty, every
	// user attribute is fetched and keyed by the name the server returns.
	Attributes []string
	// IDAttribute is the stable identity: entryUUID (default), objectGUID (decoded to a GUID string)
	// or any single-valued attribute.
	IDAttribute string
	PageSize    int           // RFC 2696 page size, default 500
	Timeout     time.Duration // per network operation, default 30s

	// ManagerAttribute holds the DN of a person's manager (default "manager"); Read resolves it to
	// the manager's ID in Record.ManagerID. "-" turns the resolution off.
	ManagerAttribute string

	Groups      GroupsConfig
	Disabled    DisabledConfig
	Incremental IncrementalConfig
}

// GroupsConfig selects how group memberships are resolved.
type GroupsConfig struct {
	Mode          string // none (default), memberOf, inChain or recursive
	GroupBaseDN   string // where groups live (inChain, recursive); BaseDN when empty
	GroupFilter   string // which entries are groups; (|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group)) when empty
	NameAttribute string // the group name reported in Record.Groups, default cn
	// PrimaryGroup adds the AD primary group (primaryGroupID, usually "Domain Users"), which AD
	// never lists in member or memberOf, to each record's groups.
	PrimaryGroup bool
}

// DisabledConfig selects how disabled accounts are recognised.
type DisabledConfig struct {
	Mode      string // none (default), activeDirectory or attribute
	Attribute string // attribute mode: e.g. pwdAccountLockedTime or employeeType
	Value     string // attribute mode: when set, the attribute must equal it (case-insensitively)
}

// IncrementalConfig restricts a read to entries changed since a high-water mark.
type IncrementalConfig struct {
	Attribute string // modifyTimestamp or uSNChanged; empty disables incremental reads
	Since     string // the mark of a previous read (Snapshot.HighWater); empty reads everything
}

// ADGroupFilter selects Active Directory groups other than the built-in ones (CN=Builtin and the
// well-known groups such as Domain Admins are critical system objects).
const ADGroupFilter = "(&(objectClass=group)(!(isCriticalSystemObject=TRUE)))"

// DefaultManagerAttribute is the attribute (cosine/AD) that holds the manager's DN.
const DefaultManagerAttribute = "manager"

// DefaultGroupFilter matches the usual group object classes of OpenLDAP and AD.
const DefaultGroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))"

func (c Config) withDefaults() Config {
	if c.Scope == "" {
		c.Scope = ScopeSub
	}
	if strings.TrimSpace(c.UserFilter) == "" {
		c.UserFilter = DefaultUserFilter
	}
	if c.IDAttribute == "" {
		c.IDAttribute = DefaultIDAttribute
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Groups.Mode == "" {
		c.Groups.Mode = GroupsNone
	}
	if c.Groups.GroupBaseDN == "" {
		c.Groups.GroupBaseDN = c.BaseDN
	}
	if strings.TrimSpace(c.Groups.GroupFilter) == "" {
		c.Groups.GroupFilter = DefaultGroupFilter
	}
	if c.Groups.NameAttribute == "" {
		c.Groups.NameAttribute = DefaultNameAttribute
	}
	if c.Disabled.Mode == "" {
		c.Disabled.Mode = DisabledNone
	}
	if c.ManagerAttribute == "" {
		c.ManagerAttribute = DefaultManagerAttribute
	}
	return c
}

// Validate checks the configuration; errors are directory.Errors of KindInvalidConfig
// (KindInvalidFilter for filters that do not compile).
func (c Config) Validate() error {
	c = c.withDefaults()
	invalid := func(format string, args ...any) error {
		return directory.Errorf(directory.KindInvalidConfig, nil, format, args...)
	}
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return invalid("url is required")
	case err != nil:
		return invalid("url %q is not a valid URL: %v", c.URL, err)
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		return invalid("url %q must start with ldap:// or ldaps://", c.URL)
	case u.Host == "":
		return invalid("url %q has no host", c.URL)
	case c.StartTLS && u.Scheme == "ldaps":
		return invalid("startTLS cannot be used with an ldaps:// url")
	}
	if len(c.CACertPEM) > 0 {
		if _, err := certPool(c.CACertPEM); err != nil {
			return invalid("caCert: %v", err)
		}
	}
	if c.BindDN == "" && c.BindPassword != "" {
		return invalid("bindPassword is set but bindDN is empty")
	}
	if c.BaseDN == "" {
		return invalid("baseDN is required")
	}
	if err := validDN(c.BaseDN); err != nil {
		return invalid("baseDN %q: %v", c.BaseDN, err)
	}
	if _, ok := scopes[c.Scope]; !ok {
		return invalid("scope %q must be one of sub, one, base", c.Scope)
	}
	if _, err := BuildFilter(c.UserFilter); err != nil {
		return err
	}
	for _, a := range c.Attributes {
		if !validAttributeName(a) {
			return invalid("attribute %q is not a valid attribute name", a)
		}
	}
	if c.ManagerAttribute != "-" && !validAttributeName(c.ManagerAttribute) {
		return invalid("managerAttribute %q is not a valid attribute name", c.ManagerAttribute)
	}
	if !validAttributeName(c.IDAttribute) {
		return invalid("idAttribute %q is not a valid attribute name", c.IDAttribute)
	}
	if c.PageSize < 0 {
		return invalid("pageSize must not be negative, got %d", c.PageSize)
	}
	if c.Timeout < 0 {
		return invalid("timeout must not be negative, got %s", c.Timeout)
	}
	switch c.Groups.Mode {
	case GroupsNone, GroupsMemberOf:
	case GroupsInChain, GroupsRecursive:
		if err := validDN(c.Groups.GroupBaseDN); err != nil {
			return invalid("groups.groupBaseDN %q: %v", c.Groups.GroupBaseDN, err)
		}
		if _, err := BuildFilter(c.Groups.GroupFilter); err != nil {
			return directory.Errorf(directory.KindInvalidFilter, err, "groups.groupFilter")
		}
	default:
		return invalid("groups.mode %q must be one of none, memberOf, inChain, recursive", c.Groups.Mode)
	}
	if !validAttributeName(c.Groups.NameAttribute) {
		return invalid("groups.nameAttribute %q is not a valid attribute name", c.Groups.NameAttribute)
	}
	switch c.Disabled.Mode {
	case DisabledNone, DisabledActiveDirectory:
	case DisabledAttribute:
		if !validAttributeName(c.Disabled.Attribute) {
			return invalid("disabled.attribute %q is not a valid attribute name", c.Disabled.Attribute)
		}
	default:
		return invalid("disabled.mode %q must be one of none, activeDirectory, attribute", c.Disabled.Mode)
	}
	if c.Incremental.Attribute != "" && !validAttributeName(c.Incremental.Attribute) {
		return invalid("incremental.attribute %q is not a valid attribute name", c.Incremental.Attribute)
	}
	if c.Incremental.Attribute == "" && c.Incremental.Since != "" {
		return invalid("incremental.since is set but incremental.attribute is empty")
	}
	return nil
}

func validDN(dn string) error {
	_, err := parseDN(dn)
	return err
}

// validAttributeName accepts an attribute description: a name or OID, optionally with options
// (e.g. "userCertificate;binary").
func validAttributeName(name string) bool {
	if name == "" {
		return false
	}
	for part := range strings.SplitSeq(name, ";") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
				return false
			}
		}
	}
	return true
}

func (c Config) String() string {
	return fmt.Sprintf("ldap source %s base %q", c.URL, c.BaseDN)
}
