package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Examples sections of the commands, by command path without the
// program's name ("client scan"). Every runnable command has one (TestExamples checks it,
// and that every line is a patchnight command line whose command exists and whose flags
// parse). They run against the lab: build and serve it first, in a folder of its own,
//
//	patchnight lab init --db lab.db --hosts 300 --seed 7
//	patchnight lab serve --db lab.db
//
// and run them in that folder, where lab serve writes patchnight-lab.yaml (the lab
// profile), as README.md's lab section does.
func examples() map[string]string {
	const lab = "patchnight --config patchnight-lab.yaml "
	return map[string]string{
		"help": `patchnight help client scan`,
		"completion bash": `# load in this shell; or write to /etc/bash_completion.d/patchnight
patchnight completion bash > ~/.patchnight-completion.bash`,
		"completion zsh":        `patchnight completion zsh > "${fpath[1]}/_patchnight"`,
		"completion fish":       `patchnight completion fish > ~/.config/fish/completions/patchnight.fish`,
		"completion powershell": `patchnight completion powershell > patchnight.ps1`,

		"config init": `patchnight config init --out config.yaml`,
		"config show": `# the effective settings of the lab profile and where each came from
` + lab + `config show
` + lab + `config show -o json`,

		"lab init": `patchnight lab init --db lab.db --hosts 300 --seed 7
patchnight lab init --db small.db --hosts 200 --patch-tuesday 2027-01-12 --force`,
		"lab serve": `# HTTPS with the lab CA; writes patchnight-lab.yaml beside lab.db
patchnight lab serve --db lab.db
# plain HTTP (NTLM with message encryption) on another port
patchnight lab serve --db lab.db --http --addr 127.0.0.1:15985`,
		"lab rehearse": `# the restart method against the same night without the 01:00 and 04:00 waves
patchnight lab rehearse --plan docs/plans/full.yaml --plan docs/plans/no-waves.yaml --hosts 500 --seeds 3
patchnight lab rehearse --plan built-in --hosts 200 -o json`,
		"demo": `patchnight demo
patchnight demo --hosts 500 --keep demo-lab --report-html morning.html
patchnight demo --hosts 200 --follow-up`,
		"docs": `patchnight docs --format man --out man
patchnight docs --format markdown --out docs/commands`,
		"doctor": lab + `doctor
` + lab + `doctor --sample 5 -o json
` + lab + `doctor --skip-clients --plan night.yaml`,

		"report follow-up": `# the long tail of December's night, as a table and as JSON
` + lab + `report follow-up --month 2026-12
` + lab + `report follow-up --month 2026-12 -o json
` + lab + `report follow-up --month 2026-12 -o html --out follow-up.html`,
		"report compliance": lab + `report compliance
` + lab + `report compliance --collection "Patch - Laptops" --group "Patch Tuesday 2026-12"
` + lab + `report compliance --update KB3080329 -o csv
` + lab + `report compliance -o html --out compliance.html`,
		"report hosts": lab + `report hosts --missing KB3080329 --collection LAB00011
` + lab + `report hosts --host PC-00002`,
		"report scan": lab + `report scan --collection LAB00011
` + lab + `report scan --late-days 7 -o md`,
		"report morning": `# the last night; a run from patchnight history; the HTML page
` + lab + `report morning --month 2026-12
` + lab + `report morning --run 1 -o json
` + lab + `report morning --run 1 -o html --out morning.html`,

		"client scan": lab + `client scan --collection LAB00011
` + lab + `client scan --host PC-00002,PC-00003 -o json`,
		"client evaluate": lab + `client evaluate --collection "Patch - Pilot"
` + lab + `client evaluate --via site --collection LAB00012`,
		"client policy": lab + `client policy --host PC-00002
` + lab + `client policy --via site --collection LAB00012`,
		"client install": `# list the machines, then install on them without asking
` + lab + `client install --collection LAB00012 --dry-run
` + lab + `client install --collection LAB00012 --yes --wait 90m`,
		"client restart": lab + `client restart --collection LAB00012 --dry-run
` + lab + `client restart --collection LAB00012 --only-if-nobody-logged-on --yes
` + lab + `client restart --via site --collection LAB00012 --yes`,
		"client reboot-pending": lab + `client reboot-pending --collection LAB00012`,
		"client logged-on":      lab + `client logged-on --collection LAB00012 -o csv`,
		"client run-schedule": `# 113: software updates scan; 108: software updates evaluation
` + lab + `client run-schedule 113 --host PC-00002,PC-00003`,
		"client operations": `# the operation ID that client ... --via site printed
` + lab + `client operations 16777217`,

		"collections plan": lab + `collections plan --group "Patch Tuesday 2026-12" --month 2026-12`,
		"collections apply": lab + `collections apply --group "Patch Tuesday 2026-12" --month 2026-12 --dry-run
` + lab + `collections apply --group "Patch Tuesday 2026-12" --month 2026-12 --yes --wait 0`,
		"collections prune":   lab + `collections prune --month 2026-12 --dry-run`,
		"collections preview": lab + `collections preview --group "Patch Tuesday 2026-12" --family missing-update`,
		"collections export": lab + `collections export --group "Patch Tuesday 2026-12" --format ps1 > collections.ps1
` + lab + `collections export --updates KB3080329 --format json`,
		"collections list": lab + `collections list --owned`,
		"collections members": lab + `collections members LAB00011
` + lab + `collections members "Patch - Pilot" -o csv`,

		"wol": lab + `wol --collection LAB00011 --dry-run
` + lab + `wol --collection LAB00011 --confirm probe --wait 2m
` + lab + `wol --host PC-00002 --mode site`,
		"notify watch-unscanned": lab + `notify watch-unscanned --once --dry-run
` + lab + `notify watch-unscanned --collection LAB00011 --interval 10m`,
		"notify missing":     lab + `notify missing --group "Patch Tuesday 2026-12" --collection LAB00012 --dry-run`,
		"notify escalations": lab + `notify escalations --threshold 3`,

		"plan show": lab + `plan show --month 2026-12
` + lab + `plan show --plan night.yaml -o json`,
		"plan validate": `patchnight plan validate night.yaml`,
		"plan export-tasks": `# on the site server, with its configuration file
patchnight --config C:\ProgramData\patchnight\config.yaml plan export-tasks --out tasks --check
patchnight plan export-tasks --out tasks --run-as 'CONTOSO\patchnight$'
# from the lab: the tasks name the configuration file the site server will have
` + lab + `plan export-tasks --out tasks --month 2026-12 --task-config 'C:\ProgramData\patchnight\config.yaml'`,
		"run": `# what a scheduled task runs; a day that is not the step's exits 0
` + lab + `run scan-1630 --month 2026-12
` + lab + `run retry-restart-0400 --month 2026-12 -o json`,
		"night": lab + `night --month 2026-12`,
		"history": lab + `history
` + lab + `history 1 -o json`,
	}
}

// addExamples gives every command under root its Example from examples(), indented as
// cobra's help shows examples.
func addExamples(root *cobra.Command) {
	ex := examples()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if e, ok := ex[subPath(c)]; ok && c.HasParent() {
			c.Example = "  " + strings.ReplaceAll(e, "\n", "\n  ")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
