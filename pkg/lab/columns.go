package lab

// viewColumn is one column a lab view exposes and the source of the fact that a real site
// database has it. "ref X" is a section of ../shared/reference/configmgr.md (with the
// source it cites); "additions" is docs/reference-additions.md, which holds what the
// reference does not list yet. A lab column without an entry here fails
// TestViewColumnsHaveSources; an entry whose column name neither document mentions fails
// TestViewColumnSourcesAreInTheReference.
type viewColumn struct {
	view, column, source string
}

// Sources, shortened.
const (
	refDiscovery   = "ref 1.1 v_R_System (memdocs sqlviews/discovery-views)"
	refRA          = "ref 1.1 v_RA_System_* (memdocs discovery views; MEM-Zone)"
	refAdapter     = "ref 1.1 v_GS_NETWORK_ADAPTER_CONFIGURATION (community queries)"
	refUser        = "ref 6 Who is logged on: v_GS_COMPUTER_SYSTEM.UserName0 (Win32 semantics, unconfirmed)"
	refSummary     = "ref 1.1 v_CH_ClientSummary (community model; MEM-Zone)"
	refCombined    = "ref 1.1 v_CombinedDeviceResources (community model)"
	refJoin        = "ref 1 join key ResourceID (MEM-Zone)"
	refUpdateInfo  = "ref 1.2 v_UpdateInfo (memdocs sqlviews; community queries)"
	refTypes       = "ref 1.2 Types (bit flags; UpdateSource_ID and MinSourceVersion of CI_UpdateCIs, MinSourceVersion on the view unconfirmed)"
	refCompliance  = "ref 1.2 v_UpdateComplianceStatus (memdocs sqlviews; community model)"
	refAll         = "ref 1.2 Which rows exist (christopherkibble.com)"
	refScan        = "ref 3 v_UpdateScanStatus (community model; MEM-Zone; cmhealth)"
	refSource      = "ref 3 pin the source: v_SoftwareUpdateSource (MEM-Zone)"
	refSUP         = "ref 3 vSMS_SUPSyncStatus (memdocs sms_supsyncstatus; MEM-Zone)"
	refAuthList    = "ref 1.2 v_AuthListInfo (memdocs sqlviews)"
	refRelation    = "ref 1.2 v_CIRelation (community queries)"
	refAssignment  = "ref 1.2 v_CIAssignment (memdocs sample queries; community SQL)"
	refToGroup     = "ref 1.2 v_CIAssignmentToGroup (MEM-Zone; community SQL)"
	refTargeted    = "ref 1.2 v_CIAssignmentTargetedMachines (memdocs sqlviews)"
	refCollection  = "ref 1.3 v_Collection (community model)"
	refCollections = "ref 1.3 v_Collections (MEM-Zone; community model)"
	refMembership  = "ref 1.3 v_FullCollectionMembership (community model)"
	refRules       = "ref 1.3 v_CollectionRuleQuery / v_CollectionRuleDirect (community queries; names unconfirmed)"
	refStateNames  = "ref 1.2 v_StateNames (community queries)"
	addDiscovery   = "additions: gvillant/ConfigMgrDev SQL; Skatterbrainz/sccm SQL"
	addComment     = "additions: Skatterbrainz/ud-cmwt pages/cmucollections.ps1"
	addAssignment  = "additions: WMI twin SMS_UpdatesAssignment (memdocs); SQL name unconfirmed"
	addVirtual     = "additions: SMS_R_System.IsVirtualMachine (memdocs); SQL name and type unconfirmed"
	addEnclosure   = "additions: Win32_SystemEnclosure.ChassisTypes (learn.microsoft.com cimwin32prov); SQL view and column names unconfirmed"
)

// viewColumns lists every column of every lab view.
func viewColumns() []viewColumn {
	cols := func(view, source string, names ...string) []viewColumn {
		out := make([]viewColumn, len(names))
		for i, n := range names {
			out[i] = viewColumn{view, n, source}
		}
		return out
	}
	var all []viewColumn
	for _, part := range [][]viewColumn{
		cols("v_R_System", refDiscovery, "ResourceID", "ResourceType", "Name0", "SMS_Unique_Identifier0",
			"Client0", "Active0", "Obsolete0", "Decommissioned0", "Operating_System_Name_and0", "Build01", "User_Name0"),
		cols("v_R_System", addDiscovery, "Resource_Domain_OR_Workgr0", "AD_Site_Name0"),
		cols("v_R_System", addVirtual, "Is_Virtual_Machine0"),
		cols("v_RA_System_IPSubnets", refRA, "ResourceID", "IP_Subnets0"),
		cols("v_RA_System_MACAddresses", refRA, "ResourceID", "MAC_Addresses0"),
		cols("v_RA_System_IPAddresses", refRA, "ResourceID", "IP_Addresses0"),
		cols("v_GS_NETWORK_ADAPTER_CONFIGURATION", refJoin, "ResourceID"),
		cols("v_GS_NETWORK_ADAPTER_CONFIGURATION", refAdapter, "MACAddress0", "IPAddress0", "IPSubnet0",
			"DefaultIPGateway0", "IPEnabled0"),
		cols("v_GS_COMPUTER_SYSTEM", refJoin, "ResourceID"),
		cols("v_GS_COMPUTER_SYSTEM", refUser, "UserName0"),
		cols("v_GS_SYSTEM_ENCLOSURE", refJoin, "ResourceID"),
		cols("v_GS_SYSTEM_ENCLOSURE", addEnclosure, "ChassisTypes0"),
		cols("v_CH_ClientSummary", refJoin, "ResourceID"),
		cols("v_CH_ClientSummary", refSummary, "ClientActiveStatus", "ClientStateDescription", "LastOnline",
			"LastDDR", "LastHW", "LastPolicyRequest"),
		cols("v_CombinedDeviceResources", refCombined, "MachineID", "Name", "IsClient", "IsActive",
			"ClientCheckPass", "CNIsOnline", "CNLastOnlineTime", "CNLastOfflineTime", "CurrentLogonUser",
			"LastLogonUser", "PrimaryUser", "MACAddress"),
		cols("v_UpdateInfo", refUpdateInfo, "CI_ID", "CI_UniqueID", "CIType_ID", "ArticleID", "BulletinID",
			"Title", "Severity", "DatePosted", "IsExpired", "IsSuperseded"),
		cols("v_UpdateInfo", refTypes, "IsDeployed"),
		cols("v_UpdateCIs", refAll, "CI_ID"),
		cols("v_UpdateCIs", refTypes, "UpdateSource_ID", "MinSourceVersion"),
		cols("v_UpdateComplianceStatus", refCompliance, "CI_ID", "ResourceID", "Status", "LastStatusChangeTime",
			"EnforcementSource", "LastEnforcementMessageID", "LastErrorCode"),
		cols("v_Update_ComplianceStatusAll", refAll, "CI_ID", "ResourceID", "Status"),
		cols("v_UpdateScanStatus", refScan, "ResourceID", "UpdateSource_ID", "LastScanState", "LastScanTime",
			"LastErrorCode", "LastScanPackageLocation", "LastScanPackageVersion", "LastWUAVersion"),
		cols("v_UpdateScanStatus", "ref 2 LastStatusMessageID & 0xFFFF (cmhealth)", "LastStatusMessageID"),
		cols("v_SoftwareUpdateSource", refSource, "UpdateSource_ID", "IsPublishingEnabled"),
		cols("vSMS_SUPSyncStatus", refSUP, "SiteCode", "WSUSServerName", "WSUSSourceServer", "SyncCatalogVersion",
			"LastSuccessfulSyncTime", "LastSyncState", "LastSyncErrorCode", "ReplicationLinkStatus"),
		cols("v_AuthListInfo", refAuthList, "CI_ID", "Title"),
		cols("v_CIRelation", refRelation, "FromCIID", "ToCIID", "RelationType"),
		cols("v_CIAssignment", refAssignment, "AssignmentID", "AssignmentName", "CollectionID", "CollectionName",
			"StartTime", "EnforcementDeadline", "NotifyUser", "DesiredConfigType"),
		cols("v_CIAssignment", addAssignment, "SuppressReboot", "AssignmentEnabled"),
		cols("v_CIAssignmentToCI", refAssignment, "AssignmentID", "CI_ID"),
		cols("v_CIAssignmentToGroup", refToGroup, "AssignmentID", "AssignedUpdateGroup"),
		cols("v_CIAssignmentTargetedMachines", refTargeted, "AssignmentID", "ResourceID"),
		cols("v_Collection", refCollection, "CollectionID", "Name", "LastRefreshTime", "RefreshType",
			"CollectionType", "CurrentStatus", "MemberCount"),
		cols("v_Collection", addComment, "Comment"),
		cols("v_Collections", refCollections, "SiteID", "LimitToCollectionID", "Schedule", "IsBuiltIn", "ObjectPath"),
		cols("v_FullCollectionMembership", refMembership, "CollectionID", "ResourceID", "ResourceType",
			"IsDirect", "IsClient"),
		cols("v_CollectionRuleQuery", refRules, "CollectionID", "QueryID", "RuleName", "QueryExpression"),
		cols("v_CollectionRuleDirect", refRules, "CollectionID", "ResourceID", "RuleName"),
		cols("v_StateNames", refStateNames, "TopicType", "StateID", "StateName"),
	} {
		all = append(all, part...)
	}
	return all
}
