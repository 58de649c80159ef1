package labsite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The lab's answers to what `patchnight doctor` asks (scripts/probe.ps1 and
// scripts/provider-doctor.ps1). A lab client is a healthy Windows PowerShell 5.1 host in
// FullLanguage mode with the execution policy at its Windows Server default
// (RemoteSigned, LocalMachine) and the ConfigMgr client of current branch 2403; its clock
// is this machine's (the lab's hosts live on it). These values are the double's choice,
// not facts about any site.
const (
	labPSVersion     = "5.1.17763.6189"
	labClientVersion = "5.00.9128.1000"
)

// probeResult is scripts/probe.ps1's answer.
type probeResult struct {
	Computer        string `json:"computer"`
	LastBoot        string `json:"lastBoot,omitempty"`
	Nonce           string `json:"nonce"`
	PSVersion       string `json:"psVersion"`
	LanguageMode    string `json:"languageMode"`
	ExecutionPolicy string `json:"executionPolicy"`
	PolicyScope     string `json:"executionPolicyScope"`
	Client          bool   `json:"client"`
	ClientVersion   string `json:"clientVersion"`
	UTCNow          string `json:"utcNow"`
}

// probe answers scripts/probe.ps1 for a lab host.
func (s *Site) probe(ctx context.Context, host string, params json.RawMessage) (any, error) {
	var p struct{ Nonce string }
	if len(params) > 0 {
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fail("bad-parameter", "parameters: %v", err)
		}
	}
	h, err := s.Sim.Host(ctx, host)
	if err != nil {
		return nil, err
	}
	r := probeResult{Computer: h.Name, Nonce: p.Nonce, PSVersion: labPSVersion, LanguageMode: "FullLanguage",
		ExecutionPolicy: "RemoteSigned", PolicyScope: "LocalMachine", Client: h.IsClient,
		UTCNow: time.Now().UTC().Format("2006-01-02T15:04:05Z")}
	if h.IsClient {
		r.ClientVersion = labClientVersion
	}
	return r, nil
}

// providerDoctor answers scripts/provider-doctor.ps1: the lab's one provider location, its
// namespace, the collections whose comment carries a patchnight owner tag, and the objects
// in console folders of ObjectType 5000. The lab account is the lab's full administrator:
// it may create and change collections. The lab has one kind of console folder (a
// collection's ObjectPath, folders patchnight writes with ObjectType 5000), so its folder
// objects are its collections in a folder, each with its own CollectionType: whether 5000
// is the device collection folder type is unconfirmed, and only a site can say.
func (s *Site) providerDoctor(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		SiteCode       string
		MaxOwned       int
		MaxFolderItems int
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fail("bad-parameter", "parameters: %v", err)
	}
	if len(p.SiteCode) != 3 {
		return nil, fail("bad-parameter", "SiteCode must be three letters or digits")
	}
	if p.MaxOwned <= 0 {
		p.MaxOwned = 50
	}
	if p.MaxFolderItems <= 0 {
		p.MaxFolderItems = 20
	}
	var code string
	if err := s.DB.QueryRowContext(ctx, `SELECT value FROM lab_meta WHERE key = 'site_code'`).Scan(&code); err != nil {
		return nil, fmt.Errorf("lab site code: %w", err)
	}
	ns := `root\sms\site_` + p.SiteCode
	type loc struct {
		Machine       string `json:"machine"`
		SiteCode      string `json:"siteCode"`
		NamespacePath string `json:"namespacePath"`
		ForLocalSite  bool   `json:"forLocalSite"`
	}
	type folderItem struct {
		InstanceKey    string `json:"instanceKey"`
		CollectionType *int   `json:"collectionType"`
	}
	type owned struct {
		CollectionID string `json:"collectionId"`
		Name         string `json:"name"`
		CanModify    *bool  `json:"canModify"`
	}
	out := struct {
		Providers        []loc        `json:"providers"`
		Namespace        string       `json:"namespace"`
		NamespacePresent bool         `json:"namespacePresent"`
		Owned            []owned      `json:"owned"`
		OwnedTotal       int          `json:"ownedTotal"`
		CanCreate        *bool        `json:"canCreate"`
		PermissionError  string       `json:"permissionError"`
		FolderItems      []folderItem `json:"folderItems"`
		FolderTotal      int          `json:"folderTotal"`
		FolderError      string       `json:"folderError"`
	}{
		Providers: []loc{{Machine: ProviderHost, SiteCode: code, NamespacePath: `\\` + ProviderHost + `\root\sms\site_` + code, ForLocalSite: true}},
		Namespace: ns, NamespacePresent: strings.EqualFold(code, p.SiteCode), Owned: []owned{}, FolderItems: []folderItem{},
	}
	if !out.NamespacePresent {
		return out, nil
	}
	yes := true
	out.CanCreate = &yes
	rows, err := s.DB.QueryContext(ctx, `SELECT CollectionID, Name FROM lab_collection
		WHERE Comment LIKE '%[patchnight:%' ORDER BY CollectionID`)
	if err != nil {
		return nil, fmt.Errorf("lab owned collections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o owned
		if err := rows.Scan(&o.CollectionID, &o.Name); err != nil {
			return nil, fmt.Errorf("lab owned collections: %w", err)
		}
		out.OwnedTotal++
		if len(out.Owned) < p.MaxOwned {
			o.CanModify = &yes
			out.Owned = append(out.Owned, o)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lab owned collections: %w", err)
	}
	items, err := s.DB.QueryContext(ctx, `SELECT CollectionID, CollectionType FROM lab_collection
		WHERE ObjectPath <> '/' ORDER BY CollectionID`)
	if err != nil {
		return nil, fmt.Errorf("lab folder items: %w", err)
	}
	defer items.Close()
	for items.Next() {
		var it folderItem
		var typ int
		if err := items.Scan(&it.InstanceKey, &typ); err != nil {
			return nil, fmt.Errorf("lab folder items: %w", err)
		}
		out.FolderTotal++
		if len(out.FolderItems) < p.MaxFolderItems {
			it.CollectionType = &typ
			out.FolderItems = append(out.FolderItems, it)
		}
	}
	if err := items.Err(); err != nil {
		return nil, fmt.Errorf("lab folder items: %w", err)
	}
	return out, nil
}
