package controllers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

// controlsFor translates spec.adoption, spec.actions and the per-kind limits of spec.safety.
func controlsFor(s v1.SyncTargetSpec) plan.Controls {
	var c plan.Controls
	if a := s.Adoption; a != nil && a.Enabled {
		match := []string{plan.MatchUserName, plan.MatchEmail}
		if len(a.MatchOn) > 0 {
			match = match[:0]
			for _, m := range a.MatchOn {
				match = append(match, string(m))
			}
		}
		c.Adoption = &plan.Adoption{MatchOn: match}
	}
	c.AdoptGroups = s.Adoption != nil && s.Adoption.Groups
	off := func(b *bool) bool { return b != nil && !*b }
	c.Off = plan.Switches{
		NoCreate:  off(s.Actions.Create),
		NoUpdate:  off(s.Actions.Update),
		NoSuspend: off(s.Actions.Suspend),
		NoDelete:  off(s.Actions.Delete),
	}
	limit := func(v *int32) *int {
		if v == nil {
			return nil
		}
		n := int(*v)
		return &n
	}
	c.MaxCreates = limit(s.Safety.MaxCreates)
	c.MaxMembershipRemovals = limit(s.Safety.MaxMembershipRemovals)
	maxAdoptions := s.Safety.GetMaxAdoptions()
	c.MaxAdoptions = &maxAdoptions
	return c
}

// requests are the pending one-shot purge and grace extension annotations, resolved against the
// users this SyncTarget suspended.
type requests struct {
	purgeValue, extendValue string // annotation values not handled yet ("" for none)
	purge                   map[string]bool
	extend                  map[string]time.Duration
	notes                   []string // names that resolve to no suspended user, bad durations
}

func pendingRequests(st *v1.SyncTarget) requests {
	var r requests
	byName := map[string]string{}
	for _, s := range st.Status.Suspended {
		byName[s.ExternalID] = s.ExternalID
		if s.UserName != "" {
			byName[strings.ToLower(s.UserName)] = s.ExternalID
		}
	}
	resolve := func(name string) (string, bool) {
		if ext, ok := byName[name]; ok {
			return ext, true
		}
		ext, ok := byName[strings.ToLower(name)]
		return ext, ok
	}
	if v := st.Annotations[v1.AnnotationPurge]; v != "" && v != st.Status.HandledPurge {
		r.purgeValue = v
		for _, name := range splitList(v) {
			if ext, ok := resolve(name); ok {
				if r.purge == nil {
					r.purge = map[string]bool{}
				}
				r.purge[ext] = true
			} else {
				r.notes = append(r.notes, fmt.Sprintf("purge of %s ignored: not a user this SyncTarget suspended", name))
			}
		}
	}
	if v := st.Annotations[v1.AnnotationExtendGrace]; v != "" && v != st.Status.HandledGraceExtension {
		r.extendValue = v
		for _, item := range splitList(v) {
			name, dur, ok := strings.Cut(item, "=")
			d, err := time.ParseDuration(strings.TrimSpace(dur))
			switch {
			case !ok || err != nil || d <= 0:
				r.notes = append(r.notes, fmt.Sprintf("grace extension %q ignored: want <userName>=<positive duration>, e.g. alice=168h", item))
				continue
			}
			ext, found := resolve(strings.TrimSpace(name))
			if !found {
				r.notes = append(r.notes, fmt.Sprintf("grace extension of %s ignored: not a user this SyncTarget suspended", name))
				continue
			}
			if r.extend == nil {
				r.extend = map[string]time.Duration{}
			}
			r.extend[ext] = d
		}
	}
	return r
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// publishRequests records what became of the purge and grace extension requests. A request counts as
// handled only by a run whose plan was applied: a blocked or dry run leaves it pending.
func (r *SyncTargetReconciler) publishRequests(st *v1.SyncTarget, res *syncer.Result, req requests) {
	if req.purgeValue == "" && req.extendValue == "" {
		return
	}
	if res == nil || !res.Applied || res.Plan == nil {
		return
	}
	notes := append(append([]string{}, req.notes...), res.Plan.Notes...)
	st.Status.Requests = notes
	if len(st.Status.Requests) > 50 {
		st.Status.Requests = st.Status.Requests[:50]
	}
	if req.purgeValue != "" {
		st.Status.HandledPurge = req.purgeValue
	}
	if req.extendValue != "" {
		st.Status.HandledGraceExtension = req.extendValue
	}
	for _, n := range notes {
		r.Recorder.Eventf(st, nil, corev1.EventTypeNormal, "Request", "Offboard", "%s", truncate(n, 1000))
	}
}
