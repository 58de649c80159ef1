-- The lab site database: a SQLite double of a ConfigMgr site database (CM_<SITECODE>).
--
-- Layout: lab_* tables hold the simulated truth and state; views carry the real
-- ConfigMgr view and column names (../shared/reference/configmgr.md sections 1 to 3), so
-- the queries in queries/ run unchanged here and on SQL Server. Product code reads the
-- views only; only the lab (generator and simulator) touches lab_* tables.
--
-- Times are UTC text 'YYYY-MM-DD HH:MM:SS' so that text comparison is time order.
--
-- Types and collation, so that the lab rejects what a site rejects:
--   BIT   columns that are bit on SQL Server (reference 1.2 "Types": IsSuperseded, IsExpired,
--         IsDeployed). pkg/site reads every result column declared BIT as a Go bool, as
--         go-mssqldb does; SQLite keeps the declared type only for plain column references
--         (also through views and CTEs), not for COALESCE/CASE/CAST, which are int on SQL
--         Server too.
--   FLAG  yes/no columns whose SQL type on a site is unconfirmed (bit or int). They read as
--         integers; tests also open the lab with site.LabOptions{FlagsAsBool: true} to prove
--         the product reads them either way.
--   COLLATE NOCASE on names and IDs: the site database's collation is case-insensitive
--   (reference 12), so `=` matches any spelling there, and here too.
-- Every column a view exposes is listed, with its source, in columns.go.

CREATE TABLE lab_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Physical locations (offices); each has several subnets.
CREATE TABLE lab_location (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE lab_subnet (
    subnet_id  TEXT PRIMARY KEY,          -- network address, e.g. '127.3.2.0' (the lab is all loopback)
    prefix_len INTEGER NOT NULL,          -- e.g. 24
    location   TEXT NOT NULL REFERENCES lab_location(name)
) WITHOUT ROWID;

-- One row per machine (discovery + client + simulation state).
CREATE TABLE lab_host (
    ResourceID        INTEGER PRIMARY KEY,
    Name              TEXT NOT NULL COLLATE NOCASE,
    Domain            TEXT NOT NULL COLLATE NOCASE,
    SMSGuid           TEXT NOT NULL,
    Location          TEXT NOT NULL,
    Subnet            TEXT NOT NULL,       -- lab_subnet.subnet_id of the primary adapter
    FormFactor        TEXT NOT NULL,       -- 'desktop' | 'laptop' | 'virtual'
    Model             TEXT NOT NULL,
    Manufacturer      TEXT NOT NULL,
    OSName            TEXT NOT NULL,
    Build             TEXT NOT NULL,
    IsClient          FLAG NOT NULL,       -- 1 = ConfigMgr client installed
    Active            FLAG NOT NULL,       -- client active (v_CH_ClientSummary.ClientActiveStatus)
    Obsolete          FLAG NOT NULL DEFAULT 0,
    Decommissioned    FLAG NOT NULL DEFAULT 0,
    ClientCheckPass   INTEGER NOT NULL,    -- 1 healthy, 2 unhealthy (0 without a client)
    Power             TEXT NOT NULL,       -- simulation: 'on' | 'off'
    WolEnabled        INTEGER NOT NULL,    -- simulation: NIC answers magic packets
    CurrentUser       TEXT,                -- simulation: interactive user now (NULL = nobody)
    LastLogonUser     TEXT,
    PrimaryUser       TEXT,
    LastOnline        TEXT,                -- last time the fast channel saw it online
    LastOffline       TEXT,
    LastDDR           TEXT,
    LastHW            TEXT,
    LastPolicyRequest TEXT,
    OfflineUntil      TEXT,                -- simulation: restarting, back online at this time
    -- Night faults (docs/lab.md): simulation only, never read by product code.
    TransientFails    INTEGER NOT NULL DEFAULT 0, -- simulation: install attempts still to fail (then pass)
    TransientCode     INTEGER NOT NULL DEFAULT 0, -- simulation: HRESULT those attempts fail with
    InstallPace       INTEGER NOT NULL DEFAULT 100, -- simulation: install duration in % of the normal
    AwayAt            TEXT,                -- simulation: leaves the network (switched off) at this time
    AwayUntil         TEXT,                -- simulation: ... and is back on at this time
    InstallFault      INTEGER NOT NULL DEFAULT 0, -- simulation: HRESULT every install fails with (0 = none)
    ScanFault         INTEGER NOT NULL DEFAULT 0, -- simulation: HRESULT every scan fails with (0 = none)
    RebootPending     INTEGER NOT NULL DEFAULT 0, -- simulation: installs finished, restart needed
    NoComeBack        INTEGER NOT NULL DEFAULT 0, -- simulation: 1 = stays off after a restart until the lab is told otherwise
    -- The fast channel sees any client that is up, also one the site marked inactive.
    -- A stored column (not an expression in the view) so that it keeps its declared type.
    CNIsOnline        FLAG GENERATED ALWAYS AS (CASE WHEN Power = 'on' AND IsClient = 1 THEN 1 ELSE 0 END) VIRTUAL,
    -- The machine kind seen by the site (issue 17), from FormFactor. IsVirtualMachine is
    -- SMS_R_System.IsVirtualMachine (memdocs); ChassisType is one Win32_SystemEnclosure
    -- ChassisTypes value per form (CIM_Chassis: 3 Desktop, 9 Laptop, 1 Other for a virtual
    -- machine, whose real chassis value is not documented). Their SQL names are unconfirmed
    -- (docs/reference-additions.md).
    IsVirtualMachine  FLAG GENERATED ALWAYS AS (CASE WHEN FormFactor = 'virtual' THEN 1 ELSE 0 END) VIRTUAL,
    ChassisType       INTEGER GENERATED ALWAYS AS (CASE FormFactor WHEN 'desktop' THEN 3 WHEN 'laptop' THEN 9 ELSE 1 END) VIRTUAL
);
CREATE INDEX lab_host_name ON lab_host(Name);
CREATE INDEX lab_host_subnet ON lab_host(Subnet);
-- Simulator look-ups: host names case-insensitively, hosts due back from a restart.
CREATE INDEX lab_host_name_nocase ON lab_host(Name COLLATE NOCASE);
CREATE INDEX lab_host_offline_until ON lab_host(OfflineUntil) WHERE OfflineUntil IS NOT NULL;
CREATE INDEX lab_host_away_at ON lab_host(AwayAt) WHERE AwayAt IS NOT NULL;

-- Simulation only (docs/lab.md, machines away for days): the absences still to come of
-- laptops taken home, closet machines and machines off for a holiday. At AwayAt the host
-- leaves as with lab_host.AwayAt (switched off, no answer, no wake) and is back on at
-- AwayUntil; the simulator deletes a row once it has taken effect.
CREATE TABLE lab_away (
    ResourceID INTEGER NOT NULL,
    Kind       TEXT NOT NULL,              -- 'home' | 'closet' | 'holiday'
    AwayAt     TEXT NOT NULL,
    AwayUntil  TEXT NOT NULL
);
CREATE INDEX lab_away_at ON lab_away(AwayAt);
CREATE INDEX lab_away_host ON lab_away(ResourceID, AwayAt);

-- Network adapters as hardware inventory saw them (comma lists, IPv4 first, as on a real site).
CREATE TABLE lab_adapter (
    ResourceID        INTEGER NOT NULL REFERENCES lab_host(ResourceID),
    AdapterIndex      INTEGER NOT NULL,
    MACAddress        TEXT,
    IPAddress         TEXT,
    IPSubnet          TEXT,
    DefaultIPGateway  TEXT,
    IPEnabled         FLAG NOT NULL,
    PRIMARY KEY (ResourceID, AdapterIndex)
) WITHOUT ROWID;
CREATE INDEX lab_adapter_mac ON lab_adapter(MACAddress); -- wake by MAC

-- Discovery multi-value attributes.
CREATE TABLE lab_ra_subnet (ResourceID INTEGER NOT NULL, IP_Subnets0 TEXT NOT NULL);
CREATE INDEX lab_ra_subnet_rid ON lab_ra_subnet(ResourceID);
CREATE TABLE lab_ra_mac (ResourceID INTEGER NOT NULL, MAC_Addresses0 TEXT NOT NULL);
CREATE INDEX lab_ra_mac_rid ON lab_ra_mac(ResourceID);
CREATE INDEX lab_ra_mac_mac ON lab_ra_mac(MAC_Addresses0); -- wake by MAC (no inventory)
CREATE TABLE lab_ra_ip (ResourceID INTEGER NOT NULL, IP_Addresses0 TEXT NOT NULL);
CREATE INDEX lab_ra_ip_rid ON lab_ra_ip(ResourceID);
CREATE INDEX lab_ra_ip_ip ON lab_ra_ip(IP_Addresses0); -- host by address

-- Software update CIs (CIType_ID 1) and software update groups (CIType_ID 9).
CREATE TABLE lab_update (
    CI_ID            INTEGER PRIMARY KEY,
    CI_UniqueID      TEXT NOT NULL COLLATE NOCASE,
    CIType_ID        INTEGER NOT NULL,
    ArticleID        TEXT COLLATE NOCASE,
    BulletinID       TEXT COLLATE NOCASE,
    Title            TEXT NOT NULL COLLATE NOCASE,
    Severity         INTEGER,
    DatePosted       TEXT NOT NULL,
    IsExpired        BIT NOT NULL DEFAULT 0,
    IsSuperseded     BIT NOT NULL DEFAULT 0,
    IsDeployed       BIT NOT NULL DEFAULT 0,
    UpdateSource_ID  INTEGER,                  -- the update source whose catalog carries it
    MinSourceVersion INTEGER NOT NULL DEFAULT 0 -- catalog version that first carries the update
);
CREATE INDEX lab_update_article ON lab_update(ArticleID);
CREATE INDEX lab_update_bulletin ON lab_update(BulletinID);

CREATE TABLE lab_cirelation (
    FromCIID     INTEGER NOT NULL,
    ToCIID       INTEGER NOT NULL,
    RelationType INTEGER NOT NULL,
    PRIMARY KEY (FromCIID, ToCIID, RelationType)
) WITHOUT ROWID;

-- Per host and applicable update: the truth and what the site was last told.
-- Truth: 0 missing, 1 installed but restart pending, 2 installed.
-- Status (topic 500) is what the last scan reported: 0 = not yet reported (the host has not
-- scanned a catalog that carries the update), 1 not required (a chained update, AfterCI),
-- 2 required, 3 installed. Pairs that are not
-- applicable have no row at all, as on a real site.
CREATE TABLE lab_update_state (
    ResourceID               INTEGER NOT NULL,
    CI_ID                    INTEGER NOT NULL,
    Truth                    INTEGER NOT NULL,
    Status                   INTEGER NOT NULL,
    LastStatusChangeTime     TEXT,
    EnforcementSource        INTEGER NOT NULL DEFAULT 0,
    LastEnforcementMessageID INTEGER NOT NULL DEFAULT 0,
    LastErrorCode            INTEGER NOT NULL DEFAULT 0,
    -- simulation: a chained update (docs/lab.md): applicable only once update AfterCI is
    -- installed and the machine restarted (Truth 2); until then a scan finds it not
    -- required (Status 1, which v_UpdateComplianceStatus leaves out). 0 = not chained.
    AfterCI                  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ResourceID, CI_ID)
) WITHOUT ROWID;
CREATE INDEX lab_update_state_ci ON lab_update_state(CI_ID, Status);

CREATE TABLE lab_update_source (
    UpdateSource_ID       INTEGER PRIMARY KEY,
    UpdateSource_UniqueID TEXT NOT NULL,
    UpdateSourceName      TEXT NOT NULL,
    SourceType            TEXT NOT NULL,
    IsPublishingEnabled   FLAG NOT NULL
);

CREATE TABLE lab_scan_status (
    ResourceID              INTEGER NOT NULL,
    UpdateSource_ID         INTEGER NOT NULL,
    LastScanState           INTEGER NOT NULL,
    LastScanTime            TEXT,
    LastErrorCode           INTEGER NOT NULL DEFAULT 0,
    LastStatusMessageID     INTEGER NOT NULL DEFAULT 0,
    LastScanPackageLocation TEXT,
    LastScanPackageVersion  INTEGER NOT NULL,
    LastWUAVersion          TEXT,
    PRIMARY KEY (ResourceID, UpdateSource_ID)
) WITHOUT ROWID;

CREATE TABLE lab_sup_sync (
    SiteCode               TEXT NOT NULL COLLATE NOCASE,
    WSUSServerName         TEXT NOT NULL COLLATE NOCASE,
    WSUSSourceServer       TEXT NOT NULL COLLATE NOCASE,
    SyncCatalogVersion     INTEGER,
    LastSuccessfulSyncTime TEXT,
    LastSyncState          INTEGER NOT NULL,
    LastSyncErrorCode      INTEGER NOT NULL,
    ReplicationLinkStatus  INTEGER NOT NULL,
    PRIMARY KEY (SiteCode, WSUSServerName)
) WITHOUT ROWID;

CREATE TABLE lab_assignment (
    AssignmentID        INTEGER PRIMARY KEY,
    Assignment_UniqueID TEXT NOT NULL,
    AssignmentName      TEXT NOT NULL COLLATE NOCASE,
    CollectionID        TEXT NOT NULL COLLATE NOCASE,
    DesiredConfigType   INTEGER NOT NULL,     -- 1 required, 2 available
    StartTime           TEXT NOT NULL,
    EnforcementDeadline TEXT,
    SuppressReboot      INTEGER NOT NULL,     -- bit mask (1 workstations, 2 servers), not a flag
    NotifyUser          FLAG NOT NULL,
    OverrideServiceWindows        FLAG NOT NULL,
    RebootOutsideOfServiceWindows FLAG NOT NULL,
    UseGMTTimes         FLAG NOT NULL,
    AssignmentEnabled   FLAG NOT NULL
);

-- A deployment of a software update group (v_CIAssignmentToGroup, reference 1.2): the
-- link from the deployment to the group, which v_CIAssignment itself does not carry.
CREATE TABLE lab_assignment_group (
    AssignmentID        INTEGER NOT NULL,
    AssignedUpdateGroup INTEGER NOT NULL,     -- CI_ID of the group (v_AuthListInfo)
    PRIMARY KEY (AssignmentID, AssignedUpdateGroup)
) WITHOUT ROWID;

-- The machines a deployment targets (v_CIAssignmentTargetedMachines, reference 1.2). The
-- lab keeps it simple: the members of the deployment's collection when the lab was
-- generated. A site recomputes it as the collection changes; the lab does not.
CREATE TABLE lab_assignment_target (
    AssignmentID INTEGER NOT NULL,
    ResourceID   INTEGER NOT NULL,
    PRIMARY KEY (AssignmentID, ResourceID)
) WITHOUT ROWID;
CREATE INDEX lab_assignment_target_rid ON lab_assignment_target(ResourceID);

CREATE TABLE lab_assignment_ci (
    AssignmentID INTEGER NOT NULL,
    CI_ID        INTEGER NOT NULL,
    PRIMARY KEY (AssignmentID, CI_ID)
) WITHOUT ROWID;

CREATE TABLE lab_collection (
    CollectionID        TEXT PRIMARY KEY COLLATE NOCASE,
    Name                TEXT NOT NULL COLLATE NOCASE,
    Comment             TEXT NOT NULL DEFAULT '',
    LimitToCollectionID TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    CollectionType      INTEGER NOT NULL DEFAULT 2,
    RefreshType         INTEGER NOT NULL DEFAULT 2,
    Schedule            TEXT NOT NULL DEFAULT '',
    ObjectPath          TEXT NOT NULL DEFAULT '/',
    IsBuiltIn           FLAG NOT NULL DEFAULT 0,
    LastRefreshTime     TEXT,
    LastChangeTime      TEXT,
    CurrentStatus       INTEGER NOT NULL DEFAULT 1,
    MemberCount         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE UNIQUE INDEX lab_collection_name ON lab_collection(Name);

CREATE TABLE lab_collection_member (
    CollectionID TEXT NOT NULL COLLATE NOCASE,
    ResourceID   INTEGER NOT NULL,
    IsDirect     FLAG NOT NULL,
    PRIMARY KEY (CollectionID, ResourceID)
) WITHOUT ROWID;
CREATE INDEX lab_collection_member_rid ON lab_collection_member(ResourceID);

CREATE TABLE lab_collection_rule_query (
    CollectionID    TEXT NOT NULL COLLATE NOCASE,
    QueryID         INTEGER NOT NULL,
    RuleName        TEXT NOT NULL,
    QueryExpression TEXT NOT NULL,
    PRIMARY KEY (CollectionID, QueryID)
) WITHOUT ROWID;

CREATE TABLE lab_collection_rule_direct (
    CollectionID TEXT NOT NULL COLLATE NOCASE,
    ResourceID   INTEGER NOT NULL,
    RuleName     TEXT NOT NULL,
    PRIMARY KEY (CollectionID, ResourceID)
) WITHOUT ROWID;

-- What the simulator did, in order: one row per client action or wake on a known host
-- (Action: scan, evaluate, policy, install, restart, wake, online), also when refused
-- (Detail says why). Lets tests and the lab's own reports see exactly which hosts were acted on.
CREATE TABLE lab_event (
    Seq        INTEGER PRIMARY KEY,
    Time       TEXT NOT NULL,
    ResourceID INTEGER NOT NULL,
    Action     TEXT NOT NULL,
    Detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX lab_event_rid ON lab_event(ResourceID, Action);

CREATE TABLE lab_state_name (
    TopicType INTEGER NOT NULL,
    StateID   INTEGER NOT NULL,
    StateName TEXT NOT NULL,
    PRIMARY KEY (TopicType, StateID)
) WITHOUT ROWID;

-- ---------------------------------------------------------------------------------------
-- Views with the real ConfigMgr names and columns. Only columns with a source (columns.go)
-- are exposed: a query that reads anything else fails here as it would on a site.

CREATE VIEW v_R_System AS
SELECT ResourceID, 5 AS ResourceType, Name AS Name0, Domain AS Resource_Domain_OR_Workgr0,
       SMSGuid AS SMS_Unique_Identifier0, IsClient AS Client0,
       Active AS Active0, Obsolete AS Obsolete0, Decommissioned AS Decommissioned0,
       OSName AS Operating_System_Name_and0, Build AS Build01, LastLogonUser AS User_Name0,
       Location AS AD_Site_Name0, IsVirtualMachine AS Is_Virtual_Machine0
FROM lab_host;

CREATE VIEW v_RA_System_IPSubnets AS SELECT ResourceID, IP_Subnets0 FROM lab_ra_subnet;
CREATE VIEW v_RA_System_MACAddresses AS SELECT ResourceID, MAC_Addresses0 FROM lab_ra_mac;
CREATE VIEW v_RA_System_IPAddresses AS SELECT ResourceID, IP_Addresses0 FROM lab_ra_ip;

CREATE VIEW v_GS_NETWORK_ADAPTER_CONFIGURATION AS
SELECT ResourceID, MACAddress AS MACAddress0, IPAddress AS IPAddress0, IPSubnet AS IPSubnet0,
       DefaultIPGateway AS DefaultIPGateway0, IPEnabled AS IPEnabled0
FROM lab_adapter;

CREATE VIEW v_GS_COMPUTER_SYSTEM AS
SELECT ResourceID, CASE WHEN Power = 'on' THEN CurrentUser END AS UserName0
FROM lab_host WHERE IsClient = 1 AND LastHW IS NOT NULL; -- no hardware inventory, no row

-- Hardware inventory of Win32_SystemEnclosure: one row per enclosure (the lab has one).
CREATE VIEW v_GS_SYSTEM_ENCLOSURE AS
SELECT ResourceID, ChassisType AS ChassisTypes0
FROM lab_host WHERE IsClient = 1 AND LastHW IS NOT NULL; -- no hardware inventory, no row

-- ClientActiveStatus is a status (0 inactive, 1 active), not a flag: CAST keeps it an integer.
CREATE VIEW v_CH_ClientSummary AS
SELECT ResourceID, CAST(Active AS INTEGER) AS ClientActiveStatus,
       CASE WHEN Active = 1 AND ClientCheckPass = 1 THEN 'Active/Pass'
            WHEN Active = 1 THEN 'Active/Fail'
            ELSE 'Inactive/Unknown' END AS ClientStateDescription,
       LastOnline, LastDDR, LastHW, LastPolicyRequest
FROM lab_host WHERE IsClient = 1;

CREATE VIEW v_CombinedDeviceResources AS
SELECT h.ResourceID AS MachineID, h.Name, h.IsClient, h.Active AS IsActive,
       h.ClientCheckPass, h.CNIsOnline,
       h.LastOnline AS CNLastOnlineTime, h.LastOffline AS CNLastOfflineTime,
       CASE WHEN h.Power = 'on' THEN h.CurrentUser END AS CurrentLogonUser,
       h.LastLogonUser, h.PrimaryUser,
       (SELECT a.MACAddress FROM lab_adapter a WHERE a.ResourceID = h.ResourceID
        ORDER BY a.AdapterIndex LIMIT 1) AS MACAddress
FROM lab_host h;

CREATE VIEW v_UpdateInfo AS
SELECT CI_ID, CI_UniqueID, CIType_ID, ArticleID, BulletinID, Title, Severity, DatePosted,
       IsExpired, IsSuperseded, IsDeployed
FROM lab_update;

-- Every software update CI (the lab has no bundles). Queries take titles and flags from
-- v_UpdateInfo. UpdateSource_ID and MinSourceVersion are columns of the base table
-- CI_UpdateCIs; whether the view exposes MinSourceVersion is unconfirmed (reference 1.2,
-- "Types"): `patchnight doctor` is to check it on a site.
CREATE VIEW v_UpdateCIs AS
SELECT CI_ID, UpdateSource_ID, MinSourceVersion
FROM lab_update WHERE CIType_ID = 1;

-- Required (2) and installed (3) rows only, as on a real site (reference 1.2).
CREATE VIEW v_UpdateComplianceStatus AS
SELECT CI_ID, ResourceID, Status, LastStatusChangeTime, EnforcementSource,
       LastEnforcementMessageID, LastErrorCode
FROM lab_update_state WHERE Status > 1;

-- Every update crossed with every client: a missing row is not required (1) when the
-- client's scan of the update's own source carried the update's catalog, unknown (0)
-- otherwise (reference 1.2).
CREATE VIEW v_Update_ComplianceStatusAll AS
SELECT u.CI_ID, s.ResourceID,
       COALESCE(ucs.Status,
                CASE WHEN uss.LastScanPackageVersion >= u.MinSourceVersion THEN 1 ELSE 0 END) AS Status
FROM lab_update u
CROSS JOIN lab_host s
LEFT JOIN v_UpdateComplianceStatus ucs ON ucs.CI_ID = u.CI_ID AND ucs.ResourceID = s.ResourceID
LEFT JOIN lab_scan_status uss ON uss.ResourceID = s.ResourceID AND uss.UpdateSource_ID = u.UpdateSource_ID
WHERE s.IsClient = 1 AND u.CIType_ID = 1;

CREATE VIEW v_UpdateScanStatus AS
SELECT ResourceID, UpdateSource_ID, LastScanState, LastScanTime, LastErrorCode,
       LastStatusMessageID, LastScanPackageLocation, LastScanPackageVersion, LastWUAVersion
FROM lab_scan_status;

CREATE VIEW v_SoftwareUpdateSource AS
SELECT UpdateSource_ID, IsPublishingEnabled
FROM lab_update_source;

CREATE VIEW vSMS_SUPSyncStatus AS
SELECT SiteCode, WSUSServerName, WSUSSourceServer, SyncCatalogVersion, LastSuccessfulSyncTime,
       LastSyncState, LastSyncErrorCode, ReplicationLinkStatus
FROM lab_sup_sync;

CREATE VIEW v_AuthListInfo AS
SELECT CI_ID, Title FROM lab_update WHERE CIType_ID = 9;

CREATE VIEW v_CIRelation AS SELECT FromCIID, ToCIID, RelationType FROM lab_cirelation;

-- Deployments. v_CIAssignment has no link to the software update group: that is
-- v_CIAssignmentToGroup.AssignedUpdateGroup (reference 1.2). SuppressReboot and
-- AssignmentEnabled are named after the WMI twin's properties; their SQL names are
-- unconfirmed (docs/reference-additions.md).
CREATE VIEW v_CIAssignment AS
SELECT AssignmentID, AssignmentName, CollectionID,
       (SELECT Name FROM lab_collection c WHERE c.CollectionID = a.CollectionID) AS CollectionName,
       DesiredConfigType, StartTime, EnforcementDeadline, SuppressReboot, NotifyUser,
       AssignmentEnabled
FROM lab_assignment a;

CREATE VIEW v_CIAssignmentToCI AS SELECT AssignmentID, CI_ID FROM lab_assignment_ci;

CREATE VIEW v_CIAssignmentToGroup AS
SELECT AssignmentID, AssignedUpdateGroup FROM lab_assignment_group;

CREATE VIEW v_CIAssignmentTargetedMachines AS
SELECT AssignmentID, ResourceID FROM lab_assignment_target;

CREATE VIEW v_Collection AS
SELECT CollectionID, Name, Comment, LastRefreshTime, RefreshType,
       CollectionType, CurrentStatus, MemberCount
FROM lab_collection;

CREATE VIEW v_Collections AS
SELECT CollectionID AS SiteID, LimitToCollectionID, Schedule, IsBuiltIn, ObjectPath
FROM lab_collection;

CREATE VIEW v_FullCollectionMembership AS
SELECT m.CollectionID, m.ResourceID, 5 AS ResourceType, m.IsDirect, h.IsClient
FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID;

CREATE VIEW v_CollectionRuleQuery AS
SELECT CollectionID, QueryID, RuleName, QueryExpression FROM lab_collection_rule_query;

CREATE VIEW v_CollectionRuleDirect AS
SELECT CollectionID, ResourceID, RuleName FROM lab_collection_rule_direct;

CREATE VIEW v_StateNames AS SELECT TopicType, StateID, StateName FROM lab_state_name;

-- ---------------------------------------------------------------------------------------
-- Simulation of what a client knows before the site does (issue 11; configmgr.md section
-- 12). Only the simulator reads these; no view exposes them.

-- Install jobs. CCM_SoftwareUpdatesManager.InstallUpdates only queues a job (reference 6
-- and 12): each update of the job waits (EvaluationState 2 Submitted), downloads (5),
-- installs (7) and ends pending a restart (9) or in error (13, with the install fault's
-- code), one update after the other, on the simulated clock. The durations are the lab's
-- assumption (see installDurations in sim.go). Settled = 1 once the end has been applied
-- to lab_update_state; a restart deletes the host's rows and loses what had not ended.
CREATE TABLE lab_install_job (
    ResourceID INTEGER NOT NULL,
    CI_ID      INTEGER NOT NULL,
    Queued     TEXT NOT NULL,
    DownloadAt TEXT NOT NULL,
    InstallAt  TEXT NOT NULL,
    DoneAt     TEXT NOT NULL,
    ErrorCode  INTEGER NOT NULL DEFAULT 0, -- HRESULT the update ends with (0 = pending restart)
    Settled    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ResourceID, CI_ID)
) WITHOUT ROWID;
CREATE INDEX lab_install_job_due ON lab_install_job(DoneAt) WHERE Settled = 0;

-- Scan results the client has not sent yet. A scan's result reaches the site's views
-- (lab_scan_status, lab_update_state.Status) through state messages: when the client is
-- told to send them (schedule 111) or when its state message reporting cycle comes round
-- (Due; reference 12). Until then the client acts on them (InstallUpdates sees what its
-- own scan found) but the site does not see them.
CREATE TABLE lab_unsent_scan (
    ResourceID              INTEGER NOT NULL,
    UpdateSource_ID         INTEGER NOT NULL,
    LastScanState           INTEGER NOT NULL,
    LastScanTime            TEXT NOT NULL,
    LastErrorCode           INTEGER NOT NULL,
    LastScanPackageLocation TEXT,
    LastScanPackageVersion  INTEGER NOT NULL,
    LastWUAVersion          TEXT,
    Due                     TEXT NOT NULL,
    PRIMARY KEY (ResourceID, UpdateSource_ID)
) WITHOUT ROWID;
CREATE INDEX lab_unsent_scan_due ON lab_unsent_scan(Due);

CREATE TABLE lab_unsent_status (
    ResourceID INTEGER NOT NULL,
    CI_ID      INTEGER NOT NULL,
    Status     INTEGER NOT NULL, -- topic 500 as the scan found it: 2 required, 3 installed
    Time       TEXT NOT NULL,
    Due        TEXT NOT NULL,
    PRIMARY KEY (ResourceID, CI_ID)
) WITHOUT ROWID;
CREATE INDEX lab_unsent_status_due ON lab_unsent_status(Due);
