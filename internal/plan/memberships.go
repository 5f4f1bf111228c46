package plan

import (
	"math/bits"
	"slices"
	"sync"
)

// Memberships. Group members are target user ids; they are resolved to target users once
// (indexMemberships) and each applied desired user's group names to target groups once
// (resolveWanted), so that additions and removals compare small integer slices: at a million
// users a map keyed by (group, id) strings, probed once per membership, was most of the planner's
// time and memory.

// indexMemberships resolves every group member id to the target users holding it, once, and fills
// memberOff/memberOf. Ids no target user holds are left out: they match nobody.
func (p *planner) indexMemberships() {
	groups := p.in.Groups
	total := 0
	for gi := range groups {
		total += len(groups[gi].Members)
	}
	// Resolve each listing once, into holder: the groups in two halves side by side (the index is
	// only read), as this is the planner's largest step at a million users.
	holder := make([]int32, total)
	resolve := func(from, to, k int) {
		for gi := from; gi < to; gi++ {
			members := groups[gi].Members
			p.byID.getAll(members, holder[k:k+len(members)])
			k += len(members)
		}
	}
	mid, kmid := 0, 0
	for ; mid < len(groups) && 2*kmid < total; mid++ {
		kmid += len(groups[mid].Members)
	}
	var wg sync.WaitGroup
	wg.Go(func() { resolve(0, mid, 0) })
	resolve(mid, len(groups), kmid)
	wg.Wait()
	p.byID = nil // not needed any more: 32 MB at a million users the collector may take back
	// Each listing becomes a pair (target user, group). A direct scatter of the groups into per-user
	// slots misses the processor's caches once per listing at a million users; instead the pairs
	// are first put into buckets of 2^shift consecutive users (at most 2048 buckets, whose write
	// positions stay cached), then each bucket's pairs into its users' slots, which lie together.
	// Both passes keep the listings' order, so each user's groups come out ascending.
	n := len(p.in.Actual)
	shift := max(bits.Len(uint(n))-radixBits, 0)
	bucketStart := make([]int, n>>shift+2)
	each := func(f func(ai, gi int32)) { // every listing of a target user, in group order
		k := 0
		for gi := range groups {
			for _, id := range groups[gi].Members {
				switch ai := holder[k]; {
				case ai < 0:
				case p.sharedID != nil && p.sharedID[id] != nil:
					for _, h := range p.sharedID[id] {
						f(h, int32(gi))
					}
				default:
					f(ai, int32(gi))
				}
				k++
			}
		}
	}
	each(func(ai, _ int32) { bucketStart[ai>>shift+1]++ })
	for b := 1; b < len(bucketStart); b++ {
		bucketStart[b] += bucketStart[b-1]
	}
	pairs := make([]uint64, bucketStart[len(bucketStart)-1])
	each(func(ai, gi int32) {
		b := ai >> shift
		pairs[bucketStart[b]] = uint64(ai)<<32 | uint64(gi)
		bucketStart[b]++
	})
	// memberOff[ai+1] counts user ai's listings, then the sums make memberOff[ai] where its
	// groups start; filling advances memberOff[ai] to where they end, so one shift restores it.
	p.memberOff = make([]int32, n+1)
	p.memberOf = make([]int32, len(pairs))
	for _, pair := range pairs {
		p.memberOff[pair>>32+1]++
	}
	for ai := range n {
		p.memberOff[ai+1] += p.memberOff[ai]
	}
	for _, pair := range pairs {
		ai := pair >> 32
		p.memberOf[p.memberOff[ai]] = int32(uint32(pair))
		p.memberOff[ai]++
	}
	copy(p.memberOff[1:], p.memberOff[:n])
	p.memberOff[0] = 0
}

// groupsOf returns the groups that list target user ai as a member, ascending.
func (p *planner) groupsOf(ai int32) []int32 {
	return p.memberOf[p.memberOff[ai]:p.memberOff[ai+1]]
}

// resolveWanted resolves the groups of every applied desired user once (see wanted).
func (p *planner) resolveWanted() {
	desired := p.in.Desired
	p.wantOff = make([]int32, len(desired)+1)
	total := 0
	for i := range desired {
		if p.status[i] == applied {
			total += len(desired[i].Groups)
		}
	}
	p.wanted = make([]int32, 0, total)
	for i := range desired {
		if p.status[i] == applied {
			for _, name := range desired[i].Groups {
				p.wanted = append(p.wanted, p.resolveGroup(name))
			}
		}
		p.wantOff[i+1] = int32(len(p.wanted))
	}
}

// wantedGroups returns resolveGroup of each of applied desired user di's Groups.
func (p *planner) wantedGroups(di int32) []int32 {
	return p.wanted[p.wantOff[di]:p.wantOff[di+1]]
}

// planAdditions adds desired user di to each of its desired groups it is not a member of yet; ai is
// its target user, -1 when it is created in this run.
func (p *planner) planAdditions(di, ai int32) {
	if !p.manageGroups {
		return
	}
	d := &p.in.Desired[di]
	targetID := ""
	if ai >= 0 {
		targetID = p.in.Actual[ai].TargetID
	}
	want := p.wantedGroups(di)
	for k, name := range d.Groups {
		if name == "" || slices.Contains(d.Groups[:k], name) || p.groupRefused(name) {
			continue
		}
		gi := want[k]
		if gi < 0 {
			if p.newGroups == nil {
				p.newGroups = map[string]struct{}{}
			}
			p.newGroups[name] = struct{}{}
			p.add(Action{Kind: KindAddMember, ExternalID: d.ExternalID, TargetID: targetID, UserName: d.UserName, Group: name,
				Reason: "in group in source"})
			continue
		}
		if ai >= 0 && p.listedIn(ai, gi) {
			continue
		}
		if slices.Contains(want[:k], gi) {
			continue // an earlier name resolved to the same group
		}
		g := &p.in.Groups[gi]
		p.add(Action{Kind: KindAddMember, ExternalID: d.ExternalID, TargetID: targetID, UserName: d.UserName,
			Group: g.DisplayName, GroupTargetID: g.TargetID, Reason: "in group in source"})
	}
}

// listedIn reports whether group gi lists target user ai as a member.
func (p *planner) listedIn(ai, gi int32) bool {
	groups := p.groupsOf(ai)
	if len(groups) <= 8 {
		return slices.Contains(groups, gi)
	}
	_, found := slices.BinarySearch(groups, gi)
	return found
}

// planRemovals removes applied desired users from the managed groups they should no longer be in:
// each target user matched by an applied desired user (managed, or adopted in this run) leaves the
// managed or adopted groups that list it and that none of its desired groups resolves to.
func (p *planner) planRemovals() {
	removable := make([]bool, len(p.in.Groups))
	for gi := range p.in.Groups {
		// hand-made groups keep their members; an adopted one is managed from this run on
		removable[gi] = p.isManagedGroup(p.in.Groups[gi].ExternalID) || p.groupAdopted(int32(gi))
	}
	for ai := range p.in.Actual {
		m := p.matchOf[ai]
		if m <= 0 {
			continue
		}
		a := &p.in.Actual[ai]
		if p.sharedID[a.TargetID] != nil {
			continue // a listing of this id may mean another target user: when in doubt, hold
		}
		d := &p.in.Desired[m-1]
		want := p.wantedGroups(m - 1)
		for _, gi := range p.groupsOf(int32(ai)) {
			g := &p.in.Groups[gi]
			if !removable[gi] || slices.Contains(want, gi) || p.keepsRefused(d.Groups, g) {
				continue
			}
			p.add(Action{Kind: KindRemoveMember, ExternalID: p.ownerOf(int32(ai)), TargetID: a.TargetID, UserName: a.UserName,
				Group: g.DisplayName, GroupTargetID: g.TargetID, Reason: "not in group in source"})
		}
	}
}
