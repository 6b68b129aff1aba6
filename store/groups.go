package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// The strategies PickEngineer knows.
const (
	// StrategyRoundRobin gives each order to the next active member, in username order.
	StrategyRoundRobin = "round_robin"
	// StrategyLeastLoaded gives each order to the active member with the fewest open work orders.
	StrategyLeastLoaded = "least_loaded"
)

var (
	// ErrGroupExists is returned when a group is created with a key already taken.
	ErrGroupExists = errors.New("store: group exists")
	// ErrUnknownStrategy is returned by PickEngineer for a strategy it does not know.
	ErrUnknownStrategy = errors.New("store: unknown assignment strategy")
)

// Group is a service group with its members.
type Group struct {
	Key       string        `json:"key"`
	Title     string        `json:"title"`
	CreatedBy string        `json:"createdBy"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
	Members   []GroupMember `json:"members"`
}

// GroupMember is an engineer of a group. Inactive members get no automatic assignments.
type GroupMember struct {
	Username  string    `json:"username"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// NewGroup is a group to create.
type NewGroup struct {
	Key, Title string
	// CreatedBy is the user creating it; CreateKey the Idempotency-Key of their request, if any.
	CreatedBy, CreateKey string
}

// CreateGroup creates a group without members. ErrGroupExists when the key is taken, unless the
// same user created it with the same title and the same non-empty CreateKey: a retry gets the
// group.
func (s *Store) CreateGroup(ctx context.Context, g NewGroup) (Group, error) {
	row, err := s.q.InsertGroup(ctx, db.InsertGroupParams{Key: g.Key, Title: g.Title, CreatedBy: g.CreatedBy, CreateKey: g.CreateKey})
	if err == nil {
		return groupOf(row, nil), nil
	}
	if err = interpret(err); !errors.Is(err, ErrNotFound) {
		return Group{}, fmt.Errorf("store: create group %s: %w", g.Key, err)
	}
	// The key is taken (ON CONFLICT DO NOTHING returned no row).
	row, err = s.q.GetGroup(ctx, g.Key)
	if err != nil {
		return Group{}, fmt.Errorf("store: get group %s: %w", g.Key, interpret(err))
	}
	if g.CreateKey != "" && row.CreateKey == g.CreateKey && row.CreatedBy == g.CreatedBy && row.Title == g.Title {
		return s.GetGroup(ctx, g.Key)
	}
	return Group{}, fmt.Errorf("store: create group %s: %w", g.Key, ErrGroupExists)
}

// GetGroup reads a group and its members; ErrNotFound when there is none.
func (s *Store) GetGroup(ctx context.Context, key string) (Group, error) {
	row, err := s.q.GetGroup(ctx, key)
	if err != nil {
		return Group{}, fmt.Errorf("store: get group %s: %w", key, interpret(err))
	}
	members, err := s.q.ListGroupMembers(ctx, []string{key})
	if err != nil {
		return Group{}, fmt.Errorf("store: members of group %s: %w", key, err)
	}
	return groupOf(row, members), nil
}

// ListGroups lists every group with its members, by key.
func (s *Store) ListGroups(ctx context.Context) ([]Group, error) {
	rows, err := s.q.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: list groups: %w", err)
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.Key
	}
	members, err := s.q.ListGroupMembers(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("store: list group members: %w", err)
	}
	byGroup := map[string][]db.GroupMember{}
	for _, m := range members {
		byGroup[m.GroupKey] = append(byGroup[m.GroupKey], m)
	}
	groups := make([]Group, len(rows))
	for i, r := range rows {
		groups[i] = groupOf(r, byGroup[r.Key])
	}
	return groups, nil
}

// UpdateGroup changes a group's title; ErrNotFound when there is no such group.
func (s *Store) UpdateGroup(ctx context.Context, key, title string) (Group, error) {
	if _, err := s.q.UpdateGroupTitle(ctx, db.UpdateGroupTitleParams{Key: key, Title: title}); err != nil {
		return Group{}, fmt.Errorf("store: update group %s: %w", key, interpret(err))
	}
	return s.GetGroup(ctx, key)
}

// DeleteGroup deletes a group and its members; ErrNotFound when there is no such group. Work
// orders already in the group keep its name.
func (s *Store) DeleteGroup(ctx context.Context, key string) error {
	n, err := s.q.DeleteGroup(ctx, key)
	if err != nil {
		return fmt.Errorf("store: delete group %s: %w", key, err)
	}
	if n == 0 {
		return fmt.Errorf("store: delete group %s: %w", key, ErrNotFound)
	}
	return nil
}

// PutGroupMember adds a member to a group or changes whether they are active. A new member is
// active unless active says otherwise; a nil active leaves an existing member as it is. created
// reports whether the member is new. ErrNotFound when there is no such group.
func (s *Store) PutGroupMember(ctx context.Context, group, username string, active *bool) (m GroupMember, created bool, err error) {
	row, err := s.q.PutGroupMember(ctx, db.PutGroupMemberParams{GroupKey: group, Username: username, Active: active})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: no such group
			return m, false, fmt.Errorf("store: add %s to group %s: %w", username, group, ErrNotFound)
		}
		return m, false, fmt.Errorf("store: add %s to group %s: %w", username, group, err)
	}
	return GroupMember{Username: row.Username, Active: row.Active, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}, row.Inserted, nil
}

// RemoveGroupMember removes a member from a group; ErrNotFound when they are not in it.
func (s *Store) RemoveGroupMember(ctx context.Context, group, username string) error {
	n, err := s.q.DeleteGroupMember(ctx, db.DeleteGroupMemberParams{GroupKey: group, Username: username})
	if err != nil {
		return fmt.Errorf("store: remove %s from group %s: %w", username, group, err)
	}
	if n == 0 {
		return fmt.Errorf("store: remove %s from group %s: %w", username, group, ErrNotFound)
	}
	return nil
}

// PickEngineer picks an active member of the group with the strategy (StrategyRoundRobin or
// StrategyLeastLoaded) and records the pick under key, in one transaction: the same key always
// returns the engineer picked first, and concurrent picks of one group are serialized by a lock
// on the group's row. It returns "" when the group does not exist or has no active member (the
// order then waits in the group's pool); nothing is recorded then. ErrUnknownStrategy for any
// other strategy.
func (s *Store) PickEngineer(ctx context.Context, key, group, strategy string) (string, error) {
	if strategy != StrategyRoundRobin && strategy != StrategyLeastLoaded {
		return "", fmt.Errorf("store: pick in group %s: %w %q", group, ErrUnknownStrategy, strategy)
	}
	var engineer string
	err := s.inTx(ctx, func(q *db.Queries) error {
		if picked, err := q.GetAssignmentPick(ctx, key); err == nil {
			engineer = picked
			return nil
		} else if !errors.Is(interpret(err), ErrNotFound) {
			return err
		}
		lastPick, err := q.LockGroupForPick(ctx, group)
		if errors.Is(interpret(err), ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		switch strategy {
		case StrategyRoundRobin:
			engineer, err = q.NextRoundRobinMember(ctx, db.NextRoundRobinMemberParams{GroupKey: group, LastPick: lastPick})
		default:
			engineer, err = q.LeastLoadedMember(ctx, group)
		}
		if errors.Is(interpret(err), ErrNotFound) {
			engineer = ""
			return nil
		} else if err != nil {
			return err
		}
		n, err := q.InsertAssignmentPick(ctx, db.InsertAssignmentPickParams{Key: key, GroupKey: group, Engineer: engineer, Strategy: strategy})
		if err != nil {
			return err
		}
		if n == 0 {
			// The same key was picked while we waited for the lock, or concurrently in another
			// group: that pick stands.
			engineer, err = q.GetAssignmentPick(ctx, key)
			return err
		}
		return q.SetGroupLastPick(ctx, db.SetGroupLastPickParams{Key: group, LastPick: engineer})
	})
	if err != nil {
		return "", fmt.Errorf("store: pick %s in group %s: %w", strategy, group, err)
	}
	return engineer, nil
}

func groupOf(g db.Group, members []db.GroupMember) Group {
	out := Group{Key: g.Key, Title: g.Title, CreatedBy: g.CreatedBy, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt, Members: make([]GroupMember, len(members))}
	for i, m := range members {
		out.Members[i] = GroupMember{Username: m.Username, Active: m.Active, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	}
	return out
}
