package plan

import (
	"fmt"
	"strings"
)

// Describe returns one human line per action, e.g. "create alice (alice@example.com)" or
// "suspend bob: not in source", preceded by a line for Blocked and OffboardingHeld. With limit > 0
// at most limit action lines are given, followed by "... and N more actions".
func (p Plan) Describe(limit int) []string {
	var lines []string
	if p.Blocked != nil {
		lines = append(lines, fmt.Sprintf("BLOCKED (%s): %s", p.Blocked.Reason, p.Blocked.Message))
	}
	if p.OffboardingHeld != nil {
		lines = append(lines, fmt.Sprintf("offboarding held (%s): %s", p.OffboardingHeld.Reason, p.OffboardingHeld.Message))
	}
	for i, a := range p.Actions {
		if limit > 0 && i == limit {
			lines = append(lines, fmt.Sprintf("... and %d more actions", len(p.Actions)-limit))
			break
		}
		lines = append(lines, a.Describe())
	}
	return lines
}

// String returns all of Describe's lines.
func (p Plan) String() string { return strings.Join(p.Describe(0), "\n") }

// Describe returns a human line for the action.
func (a Action) Describe() string {
	who := a.UserName
	if who == "" {
		who = a.ExternalID
	}
	switch a.Kind {
	case KindCreateGroup:
		return "create group " + a.Group
	case KindCreate:
		if a.User != nil && a.User.Email != "" {
			return fmt.Sprintf("create %s (%s)", who, a.User.Email)
		}
		return "create " + who
	case KindUpdate:
		return fmt.Sprintf("update %s: %s", who, strings.Join(a.Fields, ", "))
	case KindAdoptGroup:
		return fmt.Sprintf("adopt group %s (%s)", a.Group, a.Reason)
	case KindAdopt:
		return fmt.Sprintf("adopt %s (%s): %s", who, a.Reason, strings.Join(a.Fields, ", "))
	case KindAddMember:
		return fmt.Sprintf("add %s to group %s", who, a.Group)
	case KindRemoveMember:
		return fmt.Sprintf("remove %s from group %s", who, a.Group)
	}
	line := strings.ToLower(string(a.Kind)) + " " + who
	if a.Reason != "" {
		line += ": " + a.Reason
	}
	return line
}
