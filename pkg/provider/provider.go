// Package provider carries out SMS Provider operations on the site server: writing
// collections (create, properties, rules, console folder, refresh, delete), reading their
// evaluation state, and client notification operations (SMS_ClientOperation). Each
// operation is one call of a Runner, which runs one script of scripts/ (provider-*.ps1) on
// the provider host with a JSON parameter object and decodes the one JSON object it prints;
// remote.Client satisfies Runner. The request and response types here are that JSON, so the
// lab can answer the same operations.
package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/wql"
)

// Runner runs scripts/<script>.ps1 with params (marshalled to JSON) and decodes the JSON
// object the script prints into out.
type Runner interface {
	Run(ctx context.Context, script string, params any, out any) error
}

// Script names (scripts/<name>.ps1) of the provider operations.
const (
	ScriptCollections           = "provider-collections"
	ScriptCollectionStatus      = "provider-collection-status"
	ScriptClientOperation       = "provider-client-operation"
	ScriptClientOperationStatus = "provider-client-operation-status"
)

// Provider runs SMS Provider operations for one site through a Runner connected to the
// provider host.
type Provider struct {
	run  Runner
	site string
}

// New returns a Provider for the site code (three letters or digits) over r.
func New(r Runner, siteCode string) (*Provider, error) {
	if r == nil {
		return nil, errors.New("provider: no runner")
	}
	sc, err := wql.SiteCode(siteCode)
	if err != nil {
		return nil, err
	}
	return &Provider{run: r, site: sc}, nil
}

// SiteCode is the provider's site code.
func (p *Provider) SiteCode() string { return p.site }

// ---- collections ------------------------------------------------------------------------

// CollectionsRequest is the parameter object of provider-collections: every collection
// change of a plan in one call.
type CollectionsRequest struct {
	SiteCode string `json:"SiteCode"`
	// ContainerFilter selects the device collection folders and folder items
	// ("ObjectType = 5000"), built by pkg/wql; ApplyCollections fills it.
	ContainerFilter string             `json:"ContainerFilter"`
	Collections     []CollectionChange `json:"Collections"`
	Deletes         []CollectionDelete `json:"Deletes"`
}

// CollectionChange creates or changes one device collection.
type CollectionChange struct {
	// Key is the caller's handle for the change (patchnight uses the owner tag); the
	// response echoes it.
	Key string `json:"Key"`
	// CollectionID is the collection to change; "" creates one from Props.
	CollectionID string `json:"CollectionID"`
	// OwnerTag must end the comment of the existing collection (checked on the provider
	// before anything is changed), so that a collection that is not patchnight's is never
	// touched.
	OwnerTag string `json:"OwnerTag"`
	// Props are written when set (always on create).
	Props *CollectionProps `json:"Props,omitempty"`
	// Folder is the console folder to move the collection to ("/a/b", "/" the root); ""
	// leaves it where it is. Missing folders are created.
	Folder string `json:"Folder"`
	// RemoveQueryIDs and RemoveDirect delete rules (by QueryID, by ResourceID).
	RemoveQueryIDs []uint32 `json:"RemoveQueryIDs"`
	RemoveDirect   []uint32 `json:"RemoveDirect"`
	// AddQueryRules and AddDirect add rules, in one AddMembershipRules call per batch.
	AddQueryRules []QueryRule  `json:"AddQueryRules"`
	AddDirect     []DirectRule `json:"AddDirect"`
	// Refresh requests an evaluation (RequestRefresh) after the changes.
	Refresh bool `json:"Refresh"`
}

// CollectionProps are the SMS_Collection properties patchnight writes.
type CollectionProps struct {
	Name                string `json:"Name"`
	Comment             string `json:"Comment"` // ends with the owner tag
	LimitToCollectionID string `json:"LimitToCollectionID"`
	RefreshType         int    `json:"RefreshType"`  // 1 manual, 2 periodic, 4 continuous, 6 both
	RefreshDays         int    `json:"RefreshDays"`  // SMS_ST_RecurInterval DaySpan (periodic)
	RefreshHours        int    `json:"RefreshHours"` // SMS_ST_RecurInterval HourSpan (periodic)
}

// QueryRule is an SMS_CollectionRuleQuery; QueryExpression is built by pkg/wql.
type QueryRule struct {
	RuleName        string `json:"RuleName"`
	QueryExpression string `json:"QueryExpression"`
}

// DirectRule is an SMS_CollectionRuleDirect on SMS_R_System.
type DirectRule struct {
	ResourceID uint32 `json:"ResourceID"`
	RuleName   string `json:"RuleName"`
}

// CollectionDelete deletes an owned collection.
type CollectionDelete struct {
	CollectionID string `json:"CollectionID"`
	OwnerTag     string `json:"OwnerTag"` // must end the collection's comment
}

// CollectionsResponse is the result of provider-collections.
type CollectionsResponse struct {
	Collections []CollectionResult `json:"collections"`
	Deleted     []string           `json:"deleted"`
}

// CollectionResult is what happened to one CollectionChange.
type CollectionResult struct {
	Key          string   `json:"key"`
	CollectionID string   `json:"collectionId"`
	Created      bool     `json:"created"`
	Updated      bool     `json:"updated"` // properties written
	Moved        bool     `json:"moved"`
	QueryIDs     []uint32 `json:"queryIds"` // of the added query rules
	Added        int      `json:"added"`    // rules added
	Removed      int      `json:"removed"`  // rules removed
	Refreshed    bool     `json:"refreshed"`
}

// FolderObjectType is the SMS_ObjectContainerNode ObjectType of device collection folders
// (community value, absent from the MS table: unconfirmed, reference section 5).
const FolderObjectType = 5000

// normalize turns nil lists into empty ones, so that the script sees [] and never null.
func (r *CollectionsRequest) normalize() {
	if r.Collections == nil {
		r.Collections = []CollectionChange{}
	}
	if r.Deletes == nil {
		r.Deletes = []CollectionDelete{}
	}
	for i := range r.Collections {
		c := &r.Collections[i]
		if c.RemoveQueryIDs == nil {
			c.RemoveQueryIDs = []uint32{}
		}
		if c.RemoveDirect == nil {
			c.RemoveDirect = []uint32{}
		}
		if c.AddQueryRules == nil {
			c.AddQueryRules = []QueryRule{}
		}
		if c.AddDirect == nil {
			c.AddDirect = []DirectRule{}
		}
	}
}

// MaxRulesPerCall is how many rules one AddMembershipRules or DeleteMembershipRules call
// carries; the script splits larger sets. The provider's own limit is unconfirmed.
const MaxRulesPerCall = 1000

// ApplyCollections carries out every change of req in one provider call. The site code
// is filled in; collection IDs, owner tags and rules are validated first.
func (p *Provider) ApplyCollections(ctx context.Context, req CollectionsRequest) (*CollectionsResponse, error) {
	req.SiteCode = p.site
	f, err := wql.EqualsUint("ObjectType", FolderObjectType)
	if err != nil {
		return nil, err
	}
	req.ContainerFilter = f
	req.normalize()
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var out CollectionsResponse
	if err := p.run.Run(ctx, ScriptCollections, req, &out); err != nil {
		return nil, classify(err, "apply collections on site %s", p.site)
	}
	return &out, nil
}

// reasoner is an error that names its cause as "kind" or "script:<code>" (remote.Error,
// and the lab double's errors).
type reasoner interface{ Reason() string }

// classify wraps a runner error with context, and gives the refusals of the provider
// scripts their exit code: a collection that is not patchnight's, a stale plan or a bad
// parameter is the user's to fix (Usage), access denied is NoPerm, a host without the SMS
// Provider is Unavailable. Other errors keep the runner's own classification.
func classify(err error, format string, args ...any) error {
	var r reasoner
	if errors.As(err, &r) {
		switch r.Reason() {
		case "script:not-owned", "script:not-found", "script:bad-parameter", "script:bad-query":
			return exit.Wrap(exit.Usage, err, "run the plan again and check the collections it names", format, args...)
		case "script:access-denied":
			return exit.Wrap(exit.NoPerm, err, "the account needs rights on the collections (and Notify Resource for client operations)", format, args...)
		case "script:no-provider":
			return exit.Wrap(exit.Unavailable, err, "point the provider setting at the site server with the SMS Provider", format, args...)
		}
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Validate checks a request before it is sent (and before the lab applies one).
func (r *CollectionsRequest) Validate() error {
	if _, err := wql.SiteCode(r.SiteCode); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range r.Collections {
		if seen[c.Key] {
			return exit.Usagef("", "collection change %s appears twice", c.Key)
		}
		seen[c.Key] = true
		if c.Key == "" {
			return exit.Usagef("", "collection change without a key")
		}
		if c.OwnerTag == "" {
			return exit.Usagef("", "collection change %s has no owner tag", c.Key)
		}
		if c.CollectionID == "" && c.Props == nil {
			return exit.Usagef("", "collection change %s creates a collection without properties", c.Key)
		}
		if c.CollectionID != "" {
			id, err := wql.CollectionID(c.CollectionID)
			if err != nil {
				return err
			}
			if wql.IsBuiltIn(id) {
				return exit.Usagef("built-in collections take no rules", "collection %s is built in; patchnight does not change it", id)
			}
		}
		if c.Props != nil {
			if err := c.Props.validate(c.OwnerTag); err != nil {
				return err
			}
		}
		if c.Folder != "" {
			if _, err := wql.FolderPath(c.Folder); err != nil {
				return err
			}
		}
		for _, q := range c.AddQueryRules {
			if _, err := wql.Parse(q.QueryExpression); err != nil {
				return exit.Wrap(exit.Usage, err, "build rules with pkg/wql", "query rule %q of %s", q.RuleName, c.Key)
			}
			if err := wql.Comment(q.RuleName); err != nil || q.RuleName == "" {
				return exit.Usagef("", "query rule name %q of %s is not valid", q.RuleName, c.Key)
			}
		}
		for _, d := range c.AddDirect {
			if d.ResourceID == 0 {
				return exit.Usagef("", "direct rule of %s has ResourceID 0", c.Key)
			}
			if err := wql.Comment(d.RuleName); err != nil {
				return exit.Usagef("", "direct rule name %q of %s is not valid", d.RuleName, c.Key)
			}
		}
	}
	for _, d := range r.Deletes {
		id, err := wql.CollectionID(d.CollectionID)
		if err != nil {
			return err
		}
		if wql.IsBuiltIn(id) || d.OwnerTag == "" {
			return exit.Usagef("", "refusing to delete %s: built in or no owner tag", id)
		}
	}
	return nil
}

func (p *CollectionProps) validate(tag string) error {
	if err := wql.CollectionName(p.Name); err != nil {
		return err
	}
	if err := wql.Comment(p.Comment); err != nil {
		return err
	}
	if len(p.Comment) < len(tag) || p.Comment[len(p.Comment)-len(tag):] != tag {
		return exit.Usagef("", "comment of %q does not end with its owner tag %s", p.Name, tag)
	}
	if _, err := wql.CollectionID(p.LimitToCollectionID); err != nil {
		return err
	}
	switch p.RefreshType {
	case 1, 4:
	case 2, 6:
		if (p.RefreshDays < 1 || p.RefreshDays > 31) && (p.RefreshHours < 1 || p.RefreshHours > 23) ||
			p.RefreshDays > 0 && p.RefreshHours > 0 {
			return exit.Usagef("", "refresh of %q: give days 1-31 or hours 1-23", p.Name)
		}
	default:
		return exit.Usagef("use 1, 2, 4 or 6", "refresh type %d of %q is not valid", p.RefreshType, p.Name)
	}
	return nil
}

// CollectionStatusRequest is the parameter object of provider-collection-status.
type CollectionStatusRequest struct {
	SiteCode      string   `json:"SiteCode"`
	CollectionIDs []string `json:"CollectionIDs"`
}

// CollectionStatusResponse is the result of provider-collection-status.
type CollectionStatusResponse struct {
	Collections []CollectionStatus `json:"collections"`
}

// CollectionStatus is one collection's evaluation state as the provider reports it.
type CollectionStatus struct {
	CollectionID string `json:"collectionId"`
	Name         string `json:"name"`
	Found        bool   `json:"found"`
	// CurrentStatus: 0 none, 1 ready, 2 refreshing, 3 saving, 4 evaluating, 5 awaiting
	// refresh, 6 deleting, 7 appending member, 8 querying (reference section 5).
	CurrentStatus   int        `json:"currentStatus"`
	LastRefreshTime *time.Time `json:"lastRefreshTime"` // UTC
	LastChangeTime  *time.Time `json:"lastChangeTime"`  // UTC
	MemberCount     int64      `json:"memberCount"`
}

// StatusReady is CurrentStatus "ready".
const StatusReady = 1

// CollectionStatus reads the evaluation state of the collections, in one call.
func (p *Provider) CollectionStatus(ctx context.Context, ids []string) ([]CollectionStatus, error) {
	req := CollectionStatusRequest{SiteCode: p.site}
	for _, id := range ids {
		v, err := wql.CollectionID(id)
		if err != nil {
			return nil, err
		}
		req.CollectionIDs = append(req.CollectionIDs, v)
	}
	if len(req.CollectionIDs) == 0 {
		return nil, nil
	}
	var out CollectionStatusResponse
	if err := p.run.Run(ctx, ScriptCollectionStatus, req, &out); err != nil {
		return nil, classify(err, "read collection status on site %s", p.site)
	}
	return out.Collections, nil
}

// ---- client operations ------------------------------------------------------------------

// ClientOperationType is an SMS_ClientOperation Type (reference section 6; values from
// community scripts, unconfirmed in MS docs).
type ClientOperationType uint32

// Client notification operations patchnight uses.
const (
	OpMachinePolicy    ClientOperationType = 8   // request machine policy
	OpUpdateEvaluation ClientOperationType = 14  // software update deployment evaluation (not a scan)
	OpRestart          ClientOperationType = 17  // restart
	OpWake             ClientOperationType = 150 // wake up (notification wake, 1810+; not on built-in collections)
)

// String names the operation.
func (t ClientOperationType) String() string {
	switch t {
	case OpMachinePolicy:
		return "machine policy"
	case OpUpdateEvaluation:
		return "update evaluation"
	case OpRestart:
		return "restart"
	case OpWake:
		return "wake up"
	}
	return fmt.Sprintf("client operation %d", uint32(t))
}

// ClientOperationRequest is the parameter object of provider-client-operation.
type ClientOperationRequest struct {
	SiteCode     string   `json:"SiteCode"`
	Type         uint32   `json:"Type"`
	CollectionID string   `json:"CollectionID"`
	ResourceIDs  []uint32 `json:"ResourceIDs"` // empty: every member of the collection
}

// ClientOperationResponse is the result of provider-client-operation.
type ClientOperationResponse struct {
	OperationID uint32 `json:"operationId"`
}

// MaxOperationTargets bounds the resource IDs of one client operation (unconfirmed; the
// provider's limit is not documented).
const MaxOperationTargets = 50000

// InitiateClientOperation starts a client notification operation on the members of a
// collection (all of them, or those in resourceIDs) and returns its operation ID
// (SMS_ClientOperation.InitiateClientOperation). Needs Notify Resource on the collection.
func (p *Provider) InitiateClientOperation(ctx context.Context, collectionID string, typ ClientOperationType, resourceIDs []int64) (uint32, error) {
	switch typ {
	case OpMachinePolicy, OpUpdateEvaluation, OpRestart, OpWake:
	default:
		return 0, exit.Usagef("use 8, 14, 17 or 150", "client operation type %d is not one patchnight starts", uint32(typ))
	}
	id, err := wql.CollectionID(collectionID)
	if err != nil {
		return 0, err
	}
	if typ == OpWake && wql.IsBuiltIn(id) {
		return 0, exit.Usagef("target a collection of your own", "wake up does not work on built-in collection %s", id)
	}
	if len(resourceIDs) > MaxOperationTargets {
		return 0, exit.Usagef("split the targets", "%d targets are more than %d in one client operation", len(resourceIDs), MaxOperationTargets)
	}
	req := ClientOperationRequest{SiteCode: p.site, Type: uint32(typ), CollectionID: id, ResourceIDs: []uint32{}}
	for _, r := range resourceIDs {
		if r <= 0 || r > 0xFFFFFFFF {
			return 0, exit.Usagef("", "resource ID %d is out of range", r)
		}
		req.ResourceIDs = append(req.ResourceIDs, uint32(r))
	}
	var out ClientOperationResponse
	if err := p.run.Run(ctx, ScriptClientOperation, req, &out); err != nil {
		return 0, classify(err, "start %s on collection %s", typ, id)
	}
	if out.OperationID == 0 {
		return 0, fmt.Errorf("start %s on collection %s: the provider returned no operation ID", typ, id)
	}
	return out.OperationID, nil
}

// ClientOperationStatusRequest is the parameter object of provider-client-operation-status.
type ClientOperationStatusRequest struct {
	SiteCode    string `json:"SiteCode"`
	OperationID uint32 `json:"OperationID"`
	// Filter is the WQL condition selecting the operation ("ID = n"), built by pkg/wql.
	Filter string `json:"Filter"`
}

// OperationStatus summarises a client operation (SMS_ClientOperationStatus).
type OperationStatus struct {
	OperationID uint32     `json:"operationId"`
	Found       bool       `json:"found"`
	Type        uint32     `json:"type"`
	State       uint32     `json:"state"` // as the provider reports it; values undocumented here
	IsExpired   bool       `json:"isExpired"`
	Total       int64      `json:"totalClients"`
	Completed   int64      `json:"completedClients"`
	Failed      int64      `json:"failedClients"`
	Offline     int64      `json:"offlineClients"`
	Unknown     int64      `json:"unknownClients"`
	LastUpdated *time.Time `json:"lastUpdated"` // TimeLastUpdated, UTC
}

// ClientOperationStatus reads the summary of a client operation.
func (p *Provider) ClientOperationStatus(ctx context.Context, opID uint32) (*OperationStatus, error) {
	if opID == 0 {
		return nil, exit.Usagef("", "operation ID 0 is not valid")
	}
	f, err := wql.EqualsUint("ID", opID)
	if err != nil {
		return nil, err
	}
	var out OperationStatus
	req := ClientOperationStatusRequest{SiteCode: p.site, OperationID: opID, Filter: f}
	if err := p.run.Run(ctx, ScriptClientOperationStatus, req, &out); err != nil {
		return nil, classify(err, "read client operation %d", opID)
	}
	return &out, nil
}
