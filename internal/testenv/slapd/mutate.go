package slapd

import (
	"context"

	"github.com/go-ldap/ldap/v3"
)

// withAdmin runs fn on a fresh rootdn connection.
func (s *Server) withAdmin(ctx context.Context, fn func(*ldap.Conn) error) error {
	c, err := s.AdminConn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// Modify applies a modify request built by build to dn as the rootdn.
func (s *Server) Modify(ctx context.Context, dn string, build func(*ldap.ModifyRequest)) error {
	return s.withAdmin(ctx, func(c *ldap.Conn) error {
		req := ldap.NewModifyRequest(dn, nil)
		build(req)
		return c.Modify(req)
	})
}

// SetAttribute replaces an attribute of the user with that uid; no values deletes the attribute.
func (s *Server) SetAttribute(ctx context.Context, uid, attr string, values ...string) error {
	return s.Modify(ctx, UserDN(uid), func(r *ldap.ModifyRequest) { r.Replace(attr, values) })
}

// DisableUser marks the user disabled (employeeType=disabled).
func (s *Server) DisableUser(ctx context.Context, uid string) error {
	return s.SetAttribute(ctx, uid, DisabledAttribute, DisabledValue)
}

// EnableUser removes the disabled mark.
func (s *Server) EnableUser(ctx context.Context, uid string) error {
	return s.SetAttribute(ctx, uid, DisabledAttribute)
}

// MoveDepartment sets the user's departmentNumber.
func (s *Server) MoveDepartment(ctx context.Context, uid, department string) error {
	return s.SetAttribute(ctx, uid, "departmentNumber", department)
}

// DeleteUser deletes the user entry (the memberof overlay removes it from its groups).
func (s *Server) DeleteUser(ctx context.Context, uid string) error {
	return s.withAdmin(ctx, func(c *ldap.Conn) error {
		return c.Del(ldap.NewDelRequest(UserDN(uid), nil))
	})
}

// AddUser adds a user entry built from u (EntryUUID and JPEGPhoto are ignored: the server assigns the UUID).
func (s *Server) AddUser(ctx context.Context, u User) error {
	return s.withAdmin(ctx, func(c *ldap.Conn) error {
		req := ldap.NewAddRequest(u.DN(), nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("uid", []string{u.UID})
		for attr, v := range map[string]string{
			"cn": u.CN, "sn": u.SN, "givenName": u.GivenName, "displayName": u.DisplayName, "mail": u.Mail,
			"telephoneNumber": u.TelephoneNumber, "title": u.Title, "departmentNumber": u.DepartmentNumber,
			"employeeNumber": u.EmployeeNumber,
		} {
			if v != "" {
				req.Attribute(attr, []string{v})
			}
		}
		if u.Disabled {
			req.Attribute(DisabledAttribute, []string{DisabledValue})
		}
		return c.Add(req)
	})
}

// AddGroupMember adds memberDN (a user or group DN) to the group with that cn.
func (s *Server) AddGroupMember(ctx context.Context, groupCN, memberDN string) error {
	return s.Modify(ctx, GroupDN(groupCN), func(r *ldap.ModifyRequest) { r.Add("member", []string{memberDN}) })
}

// RemoveGroupMember removes memberDN from the group with that cn.
func (s *Server) RemoveGroupMember(ctx context.Context, groupCN, memberDN string) error {
	return s.Modify(ctx, GroupDN(groupCN), func(r *ldap.ModifyRequest) { r.Delete("member", []string{memberDN}) })
}
