package doctor

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/remote"
)

// ScriptProviderDoctor and ScriptProbe are the scripts the remote checks run.
const (
	ScriptProviderDoctor = "provider-doctor"
	ScriptProbe          = "probe"
)

// maxClockSkew is Kerberos' default tolerance: a client whose clock is further off than
// this from the KDC's cannot log on with Kerberos.
const maxClockSkew = 5 * time.Minute

// constrainedText is the message Windows PowerShell gives when a script calls a .NET
// method in ConstrainedLanguage mode (FullyQualifiedErrorId
// MethodInvocationNotSupportedInConstrainedLanguage); patchnight's bootstrap does so at once.
const constrainedText = "supported only on core types in this language mode"

// remoteFailure turns a failed script run into a result: what went wrong and what to do.
func remoteFailure(check, subject string, err error) Result {
	r := Result{Check: check, Subject: subject, Status: Fail, Message: oneLine(err.Error())}
	var e *remote.Error
	if !errors.As(err, &e) {
		r.Fix = "see the message"
		return r
	}
	switch e.Kind {
	case remote.KindAuth:
		r.Message = "WinRM refused the credentials: " + oneLine(e.Message)
		r.Fix = "check winrm.user and its password; on clients the account must be a local administrator (or in Remote Management Users with WMI rights on root\\ccm)"
	case remote.KindTLS:
		r.Message = "WinRM over HTTPS: " + oneLine(e.Message)
		r.Fix = "give the CA of the hosts' WinRM certificates in winrm.ca_file, or the name they carry in winrm.server_name"
	case remote.KindUnreachable, remote.KindTimeout:
		r.Message = "WinRM unreachable: " + oneLine(e.Message)
		r.Fix = "enable WinRM on the host (winrm quickconfig, or the WinRM Group Policy), allow TCP 5985/5986 from this machine in its firewall, and check winrm.port"
	case remote.KindQuota:
		r.Message = "WinRM quota: " + oneLine(e.Message)
		r.Fix = "the account has too many shells open on the host: wait, or raise MaxShellsPerUser"
	case remote.KindScript:
		switch {
		case strings.Contains(e.Message, constrainedText):
			r.Message = "PowerShell runs in ConstrainedLanguage mode: patchnight's bootstrap cannot run (\"Method invocation is supported only on core types in this language mode\")"
			r.Fix = "exempt the patchnight account's WinRM sessions from the AppLocker/WDAC script rules that put PowerShell in ConstrainedLanguage mode; patchnight needs FullLanguage"
		case e.Code == "no-client":
			r.Message = "no ConfigMgr client: " + oneLine(e.Message)
			r.Fix = "install or repair the ConfigMgr client"
		case e.Code == "access-denied":
			r.Fix = "give the account read rights on the namespace (a ConfigMgr security role; README Permissions)"
		case e.Code == "no-provider":
			r.Fix = "set provider to the SMS Provider host (usually the site server)"
		default:
			r.Fix = "the script failed on the host: see the message"
		}
	default:
		r.Fix = "see the message"
	}
	return r
}

// providerAnswer is scripts/provider-doctor.ps1's result.
type providerAnswer struct {
	Providers []struct {
		Machine       string `json:"machine"`
		SiteCode      string `json:"siteCode"`
		NamespacePath string `json:"namespacePath"`
	} `json:"providers"`
	Namespace        string `json:"namespace"`
	NamespacePresent bool   `json:"namespacePresent"`
	Owned            []struct {
		CollectionID string `json:"collectionId"`
		Name         string `json:"name"`
		CanModify    *bool  `json:"canModify"`
	} `json:"owned"`
	OwnedTotal      int    `json:"ownedTotal"`
	CanCreate       *bool  `json:"canCreate"`
	PermissionError string `json:"permissionError"`
	// The objects in console folders of ObjectType 5000 (at most maxFolderItems), each
	// with its CollectionType when it is a collection (nil otherwise), and how many there
	// are in all.
	FolderItems []struct {
		InstanceKey    string `json:"instanceKey"`
		CollectionType *int   `json:"collectionType"`
	} `json:"folderItems"`
	FolderTotal int    `json:"folderTotal"`
	FolderError string `json:"folderError"`
}

// maxFolderItems is how many objects in folders of ObjectType 5000 provider-doctor looks up.
const maxFolderItems = 20

// checkProvider: the SMS Provider answers over WinRM, its namespace for the site code is
// there, and the account may create collections and change the ones patchnight owns.
func checkProvider(ctx context.Context, o Options) []Result {
	if o.Remote == nil || o.Provider == "" || o.SiteCode == "" {
		return []Result{{Check: "provider", Status: Warn, Message: "no SMS Provider configured: collections and --via site cannot work",
			Fix: "set provider (the SMS Provider host) and site_code in the profile"}}
	}
	var a providerAnswer
	err := o.Remote.Run(ctx, o.Provider, ScriptProviderDoctor, map[string]any{"SiteCode": o.SiteCode, "MaxOwned": 50, "MaxFolderItems": maxFolderItems}, &a)
	if err != nil {
		return []Result{remoteFailure("provider", o.Provider, err)}
	}
	var locs []string
	for _, p := range a.Providers {
		locs = append(locs, p.Machine+" ("+p.SiteCode+")")
	}
	if !a.NamespacePresent {
		return []Result{{Check: "provider", Subject: o.Provider, Status: Fail,
			Message: "the namespace " + a.Namespace + " is not on this host; provider locations: " + orNone(strings.Join(locs, ", ")),
			Fix:     "set site_code to this site's code and provider to the host SMS_ProviderLocation names"}}
	}
	out := []Result{{Check: "provider", Subject: o.Provider, Status: OK,
		Message: "reachable over WinRM; namespace " + a.Namespace + " present; provider locations: " + orNone(strings.Join(locs, ", "))}}

	// The permission answer: SMS_RbacSecuredObject.UserHasPermissions is documented, the
	// permission bit values it takes are those of SMS_SecuredObject (unconfirmed for RBAC).
	perm := Result{Check: "provider-rights", Subject: o.Provider, Unconfirmed: true}
	var denied []string
	unknown := 0
	for _, c := range a.Owned {
		switch {
		case c.CanModify == nil:
			unknown++
		case !*c.CanModify:
			denied = append(denied, c.CollectionID)
		}
	}
	owned := fmt.Sprintf("%d owned collections", a.OwnedTotal)
	if len(a.Owned) < a.OwnedTotal {
		owned += fmt.Sprintf(" (%d asked)", len(a.Owned))
	}
	switch {
	case a.CanCreate != nil && !*a.CanCreate, len(denied) > 0:
		perm.Status = Fail
		perm.Message = "the account may not "
		var what []string
		if a.CanCreate != nil && !*a.CanCreate {
			what = append(what, "create collections")
		}
		if len(denied) > 0 {
			what = append(what, "change "+strings.Join(denied, ", "))
		}
		perm.Message += strings.Join(what, " or ") + " (SMS_RbacSecuredObject.UserHasPermissions)"
		perm.Fix = "give the account a security role with Create, Modify and Delete on collections, scoped to the limiting collection (README Permissions)"
	case a.CanCreate == nil || unknown > 0:
		perm.Status = Warn
		perm.Message = "could not ask whether the account may create and change collections"
		if a.PermissionError != "" {
			perm.Message += ": " + oneLine(a.PermissionError)
		}
		perm.Message += "; " + owned + " read"
		perm.Fix = "check the account's security role in the console (Administration > Security > Administrative Users): Create, Modify and Delete on collections"
	default:
		perm.Status = OK
		perm.Message = "may create collections and change the " + owned + " (SMS_RbacSecuredObject.UserHasPermissions)"
	}
	out = append(out, perm)
	folders := judgeFolderType(a)
	folders.Check, folders.Subject = "folder-type", o.Provider
	return append(out, folders)
}

// folderTypeFix says what rests on ObjectType 5000.
const folderTypeFix = "patchnight creates and moves its console folders (folder: in the collection families) as " +
	"SMS_ObjectContainerNode ObjectType 5000, the community's value for device collection folders (absent from Microsoft's table)"

// judgeFolderType: whether ObjectType 5000 is the device collection folder type on this
// site (unconfirmed, reference 5). The evidence is what sits in folders of that type:
// device collections (CollectionType 2) confirm it; another kind of collection, or keys of
// which none is a collection, refute it. Keys that are no collection beside device
// collections may be folder items left behind by deleted collections: a warning.
func judgeFolderType(a providerAnswer) Result {
	if a.FolderError != "" {
		return Result{Status: Warn, Unconfirmed: true, Message: "could not read the console folders: " + oneLine(a.FolderError),
			Fix: "check the account's read rights on the SMS Provider; " + folderTypeFix}
	}
	if len(a.FolderItems) == 0 {
		return Result{Status: Warn, Unconfirmed: true,
			Message: "nothing is in a console folder of ObjectType 5000: cannot tell whether that is the device collection folder type",
			Fix:     "put a device collection in a console folder (Assets and Compliance > Device Collections) and run doctor again; " + folderTypeFix}
	}
	device := 0
	var kind, none []string // other kinds of collection; keys that are no collection
	for _, it := range a.FolderItems {
		switch {
		case it.CollectionType != nil && *it.CollectionType == 2:
			device++
		case it.CollectionType != nil:
			kind = append(kind, fmt.Sprintf("%s (CollectionType %d)", it.InstanceKey, *it.CollectionType))
		default:
			none = append(none, it.InstanceKey+" (no collection)")
		}
	}
	seen := fmt.Sprintf("%d of the %d objects in folders of ObjectType 5000", len(a.FolderItems), a.FolderTotal)
	list := func(s []string) string {
		if len(s) > 3 {
			s = append(s[:3:3], "...")
		}
		return strings.Join(s, ", ")
	}
	if len(kind) > 0 || device == 0 {
		return Result{Status: Fail, Unconfirmed: true,
			Message: fmt.Sprintf("ObjectType 5000 is not the device collection folder type on this site: %s, %d are device collections, not %s",
				seen, device, list(append(kind, none...))),
			Fix: folderTypeFix + ", so its folders would be of the wrong kind: do not run collections apply here, and report it with this line"}
	}
	if len(none) > 0 {
		return Result{Status: Warn, Unconfirmed: true,
			Message: fmt.Sprintf("%s looked up: %d are device collections, %d no collection: %s", seen, device, len(none), list(none)),
			Fix: "look for those keys in the console's device collection folders: items left behind by deleted collections are harmless; " +
				"anything else means ObjectType 5000 is not only device collection folders: report it with this line"}
	}
	return Result{Status: OK, Unconfirmed: true,
		Message: fmt.Sprintf("%s looked up: all are device collections, so 5000 is the device collection folder type as patchnight writes it", seen)}
}

// probeAnswer is scripts/probe.ps1's result.
type probeAnswer struct {
	Computer        string `json:"computer"`
	Nonce           string `json:"nonce"`
	PSVersion       string `json:"psVersion"`
	LanguageMode    string `json:"languageMode"`
	ExecutionPolicy string `json:"executionPolicy"`
	PolicyScope     string `json:"executionPolicyScope"`
	Client          bool   `json:"client"`
	ClientVersion   string `json:"clientVersion"`
	UTCNow          string `json:"utcNow"`
}

// checkClients probes --host or a sample of online clients.
func checkClients(ctx context.Context, o Options) []Result {
	if o.SkipClients {
		return []Result{{Check: "client", Status: Warn, Message: "clients not checked (--skip-clients)",
			Fix: "run doctor without --skip-clients before the first night"}}
	}
	if o.Remote == nil {
		return []Result{{Check: "client", Status: Warn, Message: "no WinRM configured: clients not checked", Fix: "configure winrm in the profile"}}
	}
	hosts := o.Hosts
	if len(hosts) == 0 {
		errStop := errors.New("sample complete")
		err := o.Site.Each(ctx, "doctor_online_sample", nil, func(r *sql.Rows) error {
			var id int64
			var name string
			if err := r.Scan(&id, &name); err != nil {
				return fmt.Errorf("read v_CombinedDeviceResources: %w", err)
			}
			hosts = append(hosts, name)
			if len(hosts) >= o.Sample {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return []Result{schemaResult("client", "v_CombinedDeviceResources", "doctor_online_sample", err)}
		}
		if len(hosts) == 0 {
			return []Result{{Check: "client", Status: Warn, Message: "the site sees no client online (CNIsOnline) to probe",
				Fix: "name clients to probe with --host"}}
		}
	}
	nonce := o.Nonce
	if nonce == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		nonce = hex.EncodeToString(b[:])
	}
	// One probe per client through the product's fan-out; a probe's failures are results,
	// never errors, so nothing is retried. Lines come out in the order hosts were named.
	byHost := map[string][]Result{}
	remote.FanOut(ctx, slices.Values(hosts), remote.FanOutOptions{Concurrency: max(o.Concurrency, 1)},
		func(ctx context.Context, h string) ([]Result, error) { return probeHost(ctx, o, h, nonce), nil },
		func(r remote.HostResult[[]Result]) { byHost[strings.ToLower(r.Host)] = r.Value })
	var out []Result
	for _, h := range hosts {
		out = append(out, byHost[strings.ToLower(h)]...)
		delete(byHost, strings.ToLower(h)) // a host named twice is probed and listed once
	}
	return out
}

// probeHost runs probe.ps1 on one client and judges its answer.
func probeHost(ctx context.Context, o Options, name, nonce string) []Result {
	host := o.Qualify(name)
	var a probeAnswer
	if err := o.Remote.Run(ctx, host, ScriptProbe, map[string]any{"Nonce": nonce}, &a); err != nil {
		return []Result{remoteFailure("client", host, err)}
	}
	now := o.Now()
	var out []Result
	bad := func(s Status, msg, fix string) {
		out = append(out, Result{Check: "client", Subject: host, Status: s, Message: msg, Fix: fix})
	}
	if a.Nonce != nonce {
		bad(Fail, "the stdin round trip failed: the nonce sent with the parameters came back as "+strconv.Quote(a.Nonce),
			"patchnight sends scripts and parameters on stdin: check for a WinRM proxy or shell wrapper that drops stdin")
	}
	if a.LanguageMode != "" && a.LanguageMode != "FullLanguage" {
		bad(Fail, "PowerShell runs in "+a.LanguageMode+" mode",
			"exempt the patchnight account's WinRM sessions from the AppLocker/WDAC script rules; patchnight needs FullLanguage")
	}
	if major, minor, ok := psVersion(a.PSVersion); !ok || major < 3 {
		bad(Fail, "PowerShell "+orNone(a.PSVersion)+": patchnight's scripts need Windows PowerShell 5.1", "install Windows Management Framework 5.1")
	} else if major < 5 || (major == 5 && minor < 1) {
		bad(Warn, "PowerShell "+a.PSVersion+": patchnight's scripts are written for Windows PowerShell 5.1", "install Windows Management Framework 5.1")
	}
	if (a.ExecutionPolicy == "AllSigned" || a.ExecutionPolicy == "Restricted") && strings.HasSuffix(a.PolicyScope, "Policy") {
		bad(Warn, "execution policy "+a.ExecutionPolicy+" from Group Policy ("+a.PolicyScope+")",
			"nothing to change for patchnight: its bootstrap runs as -EncodedCommand, which execution policy does not block (scripts run as -File would be)")
	}
	if !a.Client {
		bad(Fail, "no ConfigMgr client (root\\ccm:SMS_Client)", "install or repair the ConfigMgr client")
	}
	skew := time.Duration(0)
	if t, err := time.Parse(time.RFC3339, a.UTCNow); err == nil {
		skew = t.Sub(now).Round(time.Second)
		if skew > maxClockSkew || skew < -maxClockSkew {
			bad(Warn, "the clock is off by "+skew.String()+" from this machine's",
				"Kerberos needs clocks within 5 minutes: check the Windows Time service (w32tm /query /status) on the client and here")
		}
	} else {
		bad(Warn, "the client did not say its time", "see the probe script's output")
	}
	if len(out) > 0 {
		return out
	}
	sign := "+"
	if skew < 0 {
		sign = ""
	}
	return []Result{{Check: "client", Subject: host, Status: OK,
		Message: fmt.Sprintf("PowerShell %s %s, execution policy %s (%s), client %s, stdin round trip ok, clock %s%s",
			a.PSVersion, a.LanguageMode, a.ExecutionPolicy, orNone(a.PolicyScope), a.ClientVersion, sign, skew)}}
}

// psVersion parses "5.1.19041.4522".
func psVersion(s string) (major, minor int, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}
