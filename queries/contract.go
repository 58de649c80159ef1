package queries

import (
	"fmt"
	"slices"
)

// Kind is how the Go code reads a parameter or a result column of a query.
type Kind string

// The kinds.
const (
	// Int is read into an int64 (or int): integer columns and COUNT/SUM results.
	Int Kind = "int"
	// String is read into a string.
	String Kind = "string"
	// Time is read with site.NullTime: a datetime on SQL Server, UTC text in the lab.
	Time Kind = "time"
	// Flag is a yes/no column. On a real site a flag may be a bit (go-mssqldb returns Go
	// bool) or an int (a CASE or COALESCE result), so it must be read with a scan that
	// takes both; it is held to either type.
	Flag Kind = "flag"
)

// Param is a named parameter of a query (@Name in its text).
type Param struct {
	Name string
	Kind Kind
}

// Column is a result column of a query, in result order.
type Column struct {
	Name string
	Kind Kind
}

// Contract is what the Go code expects of one query in this folder: the parameters it
// passes and the columns it reads, in order. `patchnight doctor` holds what a site's
// database says the query returns against it, without running the query; a test holds
// it against what the query really returns on a generated lab, so it cannot drift.
type Contract struct {
	Query   string // the query's name (file name without .sql)
	Params  []Param
	Columns []Column
}

// ParamList is the parameter declaration of c in T-SQL, as sp_describe_first_result_set
// takes it ("@collection nvarchar(256), @group bigint"). The types are fixed by Kind.
func (c Contract) ParamList() string {
	s := ""
	for i, p := range c.Params {
		if i > 0 {
			s += ", "
		}
		s += "@" + p.Name + " " + p.Kind.sqlType()
	}
	return s
}

// sqlType is the T-SQL type a parameter of kind k is declared with: what go-mssqldb sends
// for the Go value (int64 as bigint, string as nvarchar, time.Time as datetime2).
func (k Kind) sqlType() string {
	switch k {
	case Int, Flag:
		return "bigint"
	case Time:
		return "datetime2"
	default:
		return "nvarchar(4000)"
	}
}

// Contracts returns the contract of every query, sorted by query name. The slice is new
// on each call.
func Contracts() []Contract {
	str := func(names ...string) []Param {
		out := make([]Param, len(names))
		for i, n := range names {
			out[i] = Param{n, String}
		}
		return out
	}
	cols := func(spec ...string) []Column {
		// spec is name, kind, name, kind, ...
		out := make([]Column, 0, len(spec)/2)
		for i := 0; i+1 < len(spec); i += 2 {
			out = append(out, Column{spec[i], Kind(spec[i+1])})
		}
		return out
	}
	idName := cols("ResourceID", "int", "Name", "string")
	excludes := make([]Param, MaxExcluded)
	for i := range excludes {
		excludes[i] = Param{ExcludeParam(i + 1), String}
	}
	c := []Contract{
		{"check_site", nil, cols("ok", "int")},
		{"collection_lookup", str("key"), cols("CollectionID", "string", "Name", "string", "MemberCount", "int", "CollectionType", "int")},
		{"collection_members", str("collection"), cols("ResourceID", "int", "Name", "string", "IsDirect", "flag", "Client", "flag", "Domain", "string")},
		{"collection_missing_update", str("article", "bulletin", "limit"), idName},
		{"collection_rules_direct", nil, cols("CollectionID", "string", "ResourceID", "int", "RuleName", "string")},
		{"collection_rules_query", nil, cols("CollectionID", "string", "QueryID", "int", "RuleName", "string", "QueryExpression", "string")},
		{"collection_state", nil, cols("CollectionID", "string", "Name", "string", "Comment", "string", "LimitToCollectionID", "string",
			"RefreshType", "int", "ObjectPath", "string", "IsBuiltIn", "flag", "CollectionType", "int", "MemberCount", "int",
			"CurrentStatus", "int", "LastRefreshTime", "time")},
		{"collection_sug_updates", []Param{{"group", Int}}, cols("CI_ID", "int", "ArticleID", "string", "BulletinID", "string",
			"Title", "string", "IsExpired", "flag", "IsSuperseded", "flag")},
		{"collection_update_lookup", str("article", "bulletin"), cols("CI_ID", "int", "ArticleID", "string", "BulletinID", "string", "Title", "string")},
		{"compliance", append([]Param{{"all", Int}, {"article", String}, {"bulletin", String}, {"collection", String}, {"eligible", Int}, {"group", Int}},
			excludes...),
			cols("CI_ID", "int", "ArticleID", "string", "BulletinID", "string", "Title", "string", "Severity", "int",
				"IsSuperseded", "flag", "Required", "int", "Installed", "int", "NotRequired", "int", "Clients", "int")},
		{"doctor_group_deployments", []Param{{"group", Int}}, cols("AssignmentID", "int", "AssignmentName", "string", "CollectionID", "string")},
		{"doctor_min_source_version", nil, cols("CI_ID", "int", "UpdateSource_ID", "int", "MinSourceVersion", "int")},
		{"doctor_adapter_lists", nil, cols("ResourceID", "int", "IPs", "string", "Masks", "string")},
		{"doctor_fast_channel", nil, cols("Online", "int", "Latest", "time")},
		{"doctor_not_required", []Param{{"resource_id", Int}}, cols("Updates", "int", "Agree", "int", "SiteNotRequired", "int",
			"SiteUnknown", "int", "Example", "int")},
		{"doctor_online_sample", nil, idName},
		{"doctor_scan_versions", nil, cols("Version", "int", "Clients", "int")},
		{"doctor_sup_sync", nil, cols("WSUSServerName", "string", "WSUSSourceServer", "string", "SyncCatalogVersion", "int",
			"LastSuccessfulSyncTime", "time", "LastSyncErrorCode", "int")},
		{"host_updates", str("name"), cols("ResourceID", "int", "Name", "string", "CI_ID", "int", "ArticleID", "string",
			"BulletinID", "string", "Title", "string", "Status", "int", "EnforcementState", "int",
			"EnforcementStateName", "string", "LastErrorCode", "int", "LastScanTime", "time")},
		{"host_chassis", str("scope"), cols("ResourceID", "int", "ChassisTypes", "string")},
		{"host_virtual", str("scope"), cols("ResourceID", "int", "IsVirtual", "flag")},
		{"hosts_missing", str("article", "bulletin", "collection"), cols("ResourceID", "int", "Name", "string", "CI_ID", "int",
			"ArticleID", "string", "BulletinID", "string", "Title", "string", "LastScanTime", "time", "EnforcementState", "int",
			"EnforcementStateName", "string", "LastErrorCode", "int", "Online", "flag", "CurrentUser", "string")},
		{"night_deployments", []Param{{"group", Int}}, cols("AssignmentID", "int", "AssignmentName", "string", "CollectionID", "string",
			"CollectionName", "string", "DesiredConfigType", "int", "StartTime", "time", "EnforcementDeadline", "time",
			"SuppressReboot", "int", "NotifyUser", "flag", "AssignmentEnabled", "flag", "Updates", "int", "AssignedUpdateGroup", "int")},
		{"night_enforcement_state", []Param{{"limit", String}, {"state", Int}}, idName},
		{"followup_not_seen", []Param{{"scope", String}, {"since", Time}}, cols("ResourceID", "int", "Name", "string",
			"LastOnline", "time", "LastOffline", "time")},
		{"night_host_state", []Param{{"group", Int}, {"scope", String}}, cols("ResourceID", "int", "Name", "string",
			"Location", "string", "Eligible", "flag", "Active", "flag", "Healthy", "int", "Online", "flag",
			"ScanBucket", "string", "ScanError", "int", "Known", "flag", "Required", "int", "PendingRestart", "int",
			"Failed", "int", "ErrorCode", "int", "LastOnline", "time", "ScanState", "int")},
		{"night_logged_on", str("limit"), idName},
		{"night_needs_attention", str("collection"), idName},
		{"night_nobody_logged_on", str("limit"), idName},
		{"night_targets", []Param{{"attention", String}, {"group", Int}, {"scope", String}, {"selector", String}},
			cols("ResourceID", "int", "Name", "string", "Online", "flag", "CurrentUser", "string")},
		{"notify_missing", []Param{{"article", String}, {"bulletin", String}, {"collection", String}, {"group", Int}},
			cols("ResourceID", "int", "Name", "string", "CI_ID", "int", "ArticleID", "string", "BulletinID", "string",
				"Title", "string", "EnforcementState", "int", "LastErrorCode", "int", "Online", "flag", "CurrentUser", "string")},
		{"notify_scan_behind", str("collection"), cols("ResourceID", "int", "Name", "string", "Online", "flag",
			"CurrentUser", "string", "Bucket", "string", "ScanVersion", "int", "CatalogVersion", "int")},
		{"scan_status", []Param{{"collection", String}, {"late_before", Time}}, cols("Bucket", "string", "ErrorCode", "int",
			"Clients", "int", "Late", "int", "CatalogVersion", "int")},
		{"scanbehind_members", str("limit", "variant"), idName},
		{"sug_lookup", []Param{{"id", Int}, {"title", String}}, cols("CI_ID", "int", "Title", "string", "Updates", "int")},
		{"wol_online", str("collection"), cols("ResourceID", "int", "Online", "flag")},
		{"wol_targets", str("collection"), cols("ResourceID", "int", "Name", "string", "Online", "flag", "Source", "string",
			"MAC", "string", "IPs", "string", "Masks", "string")},
	}
	slices.SortFunc(c, func(a, b Contract) int {
		switch {
		case a.Query < b.Query:
			return -1
		case a.Query > b.Query:
			return 1
		}
		return 0
	})
	return c
}

// ContractOf returns the contract of the named query.
func ContractOf(name string) (Contract, error) {
	for _, c := range Contracts() {
		if c.Query == name {
			return c, nil
		}
	}
	return Contract{}, fmt.Errorf("query %q has no contract in queries/contract.go", name)
}
