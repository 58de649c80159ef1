// Package scripts holds the PowerShell that patchnight runs on remote hosts, embedded into
// the binary, and the framing of the remote script protocol (DESIGN.md, "Remote script
// protocol").
//
// The protocol, end to end:
//
//	command line  powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass
//	              -EncodedCommand <base64 of the UTF-16LE bootstrap>      (fixed, about 2.5 KB)
//	stdin         <base64 of the UTF-8 JSON parameter object> LF
//	              <base64 of the UTF-8 script text> LF
//	stdout        exactly one JSON object; {"error":{"code":..,"message":..}} on failure
//	exit code     0 on success, 1 on failure
//
// The command line never changes (Command), so it stays far below cmd.exe's 8191-character
// limit whatever the script or the parameters are; the script and the parameters travel
// on stdin, base64-encoded so that no code page, newline translation or quoting on the way
// can alter them, and the parameters reach the script as a parsed object: user input never
// becomes PowerShell text. The first line of every script names its operation and version
// ("# patchnight-op: name/1", see Op), so the lab can answer for it and logs can name it.
package scripts

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

//go:embed *.ps1
var files embed.FS

// BootstrapName is the name of the bootstrap script (bootstrap.ps1). It is not an
// operation: Command embeds it, and Get refuses it.
const BootstrapName = "bootstrap"

// PowerShell is the program and the fixed options every remote script runs under.
const PowerShell = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass"

// Errors returned by the parsers, for errors.Is.
var (
	ErrNotFound   = errors.New("no such script")
	ErrNoOpHeader = errors.New("script does not start with a '# patchnight-op: name/N' line")
	ErrBadInput   = errors.New("malformed script input")
	ErrBadCommand = errors.New("not a patchnight bootstrap command line")
)

// opLine is the first line of every script: "# patchnight-op: name/1".
var opLine = regexp.MustCompile(`^# patchnight-op: ([a-z][a-z0-9-]{0,62})/([1-9][0-9]{0,5})$`)

// Get returns the text of the named script (the file name without .ps1), with the shared
// libraries it names in a "# patchnight-uses:" line inserted after its param($p) line.
func Get(name string) (string, error) {
	if name == BootstrapName || strings.HasPrefix(name, libPrefix) || strings.ContainsAny(name, `/\.`) || name == "" {
		return "", fmt.Errorf("script %q: %w", name, ErrNotFound)
	}
	b, err := files.ReadFile(name + ".ps1")
	if err != nil {
		return "", fmt.Errorf("script %q is not in scripts/: %w", name, ErrNotFound)
	}
	return compose(name, string(b))
}

// libPrefix names the libraries: lib-NAME.ps1 holds functions that scripts share.
const libPrefix = "lib-"

var usesLine = regexp.MustCompile(`(?m)^# patchnight-uses: ([a-z, -]+)\r?$`)
var paramLine = regexp.MustCompile(`(?m)^param\(\$p\)\r?\n`)

// compose inserts the libraries a script names in its "# patchnight-uses: a, b" header
// line right after its param($p) line (param must stay the script block's first
// statement), so that shared functions are written once in scripts/ and every script
// still travels as one self-contained text.
func compose(name, text string) (string, error) {
	m := usesLine.FindStringSubmatch(text)
	if m == nil {
		return text, nil
	}
	var libs strings.Builder
	for lib := range strings.SplitSeq(m[1], ",") {
		lib = strings.TrimSpace(lib)
		b, err := files.ReadFile(libPrefix + lib + ".ps1")
		if err != nil {
			return "", fmt.Errorf("script %q uses library %q, which is not in scripts/: %w", name, lib, ErrNotFound)
		}
		libs.Write(b)
	}
	loc := paramLine.FindStringIndex(text)
	if loc == nil {
		return "", fmt.Errorf("script %q uses libraries but has no param($p) line: %w", name, ErrNotFound)
	}
	return text[:loc[1]] + libs.String() + text[loc[1]:], nil
}

// Names lists the embedded operation scripts (without the bootstrap), sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".ps1"); ok && n != BootstrapName && !strings.HasPrefix(n, libPrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Op parses the first line of a script, "# patchnight-op: name/1", and returns the
// operation name and version. It returns ("", 0) when the line is missing or malformed.
func Op(text string) (name string, version int) {
	line, _, _ := strings.Cut(text, "\n")
	line = strings.TrimSuffix(strings.TrimPrefix(line, "\ufeff"), "\r")
	m := opLine.FindStringSubmatch(line)
	if m == nil {
		return "", 0
	}
	v, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0
	}
	return m[1], v
}

// Bootstrap returns the text of the bootstrap script.
func Bootstrap() string {
	b, err := files.ReadFile(BootstrapName + ".ps1")
	if err != nil {
		// The file is embedded at build time; its absence is a build defect.
		panic("scripts: bootstrap.ps1 is not embedded: " + err.Error())
	}
	return string(b)
}

// Command returns the fixed command line that starts the bootstrap:
// PowerShell + " -EncodedCommand " + base64(UTF-16LE(bootstrap)).
func Command() string {
	return PowerShell + " -EncodedCommand " + encodeUTF16Base64(Bootstrap())
}

// Input frames a script and its JSON parameter object for the bootstrap's stdin: two
// lines, each the base64 (standard alphabet, padded) of the UTF-8 bytes, each ended by LF.
func Input(script string, params []byte) []byte {
	return InputEncoded(base64.StdEncoding.AppendEncode(nil, []byte(script)), params)
}

// InputEncoded is Input for a script already in base64 (standard alphabet, padded), as a
// caller that runs one script on many hosts keeps it.
func InputEncoded(script64, params []byte) []byte {
	return AppendInputEncoded(make([]byte, 0, InputEncodedLen(script64, params)), script64, params)
}

// InputEncodedLen is the length of InputEncoded(script64, params).
func InputEncodedLen(script64, params []byte) int {
	return base64.StdEncoding.EncodedLen(len(params)) + len(script64) + 2
}

// AppendInputEncoded appends InputEncoded(script64, params) to out.
func AppendInputEncoded(out, script64, params []byte) []byte {
	enc := base64.StdEncoding
	out = enc.AppendEncode(out, params)
	out = append(out, '\n')
	out = append(out, script64...)
	out = append(out, '\n')
	return out
}

// ParseInput is the inverse of Input: it returns the script text and the raw JSON
// parameters. CR before LF and trailing blank lines are tolerated.
func ParseInput(stdin []byte) (script string, params []byte, err error) {
	text := bytes.ReplaceAll(stdin, []byte("\r\n"), []byte("\n"))
	lines := bytes.Split(bytes.TrimRight(text, "\n"), []byte("\n"))
	if len(lines) != 2 {
		return "", nil, fmt.Errorf("%w: want 2 lines (parameters, script), got %d", ErrBadInput, len(lines))
	}
	params, err = base64.StdEncoding.DecodeString(string(lines[0]))
	if err != nil {
		return "", nil, fmt.Errorf("%w: parameter line: %v", ErrBadInput, err)
	}
	s, err := base64.StdEncoding.DecodeString(string(lines[1]))
	if err != nil {
		return "", nil, fmt.Errorf("%w: script line: %v", ErrBadInput, err)
	}
	if !utf8.Valid(s) {
		return "", nil, fmt.Errorf("%w: script is not UTF-8", ErrBadInput)
	}
	return string(s), params, nil
}

// ParseCommand checks that cmdline is the command line Command returns (PowerShell with
// the fixed options and -EncodedCommand) and returns the decoded PowerShell text.
func ParseCommand(cmdline string) (string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(cmdline), PowerShell+" -EncodedCommand ")
	if !ok {
		return "", fmt.Errorf("%w: want %q followed by -EncodedCommand and base64", ErrBadCommand, PowerShell)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", fmt.Errorf("%w: -EncodedCommand is not base64: %v", ErrBadCommand, err)
	}
	if len(b)%2 != 0 {
		return "", fmt.Errorf("%w: -EncodedCommand has an odd byte count, so it is not UTF-16LE", ErrBadCommand)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u)), nil
}

// encodeUTF16Base64 is what powershell.exe -EncodedCommand expects.
func encodeUTF16Base64(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// MaxParamsChars is the longest JSON text Windows PowerShell 5.1's ConvertFrom-Json
// accepts: the bootstrap parses the parameter object with it, and the cmdlet's
// JavaScriptSerializer refuses input over its default MaxJsonLength of 2,097,152
// characters (configmgr.md section 12; the cmdlet cannot raise it).
const MaxParamsChars = 2097152

// ParamsTooLongMessage is the exception message ConvertFrom-Json throws on 5.1 for input
// over MaxParamsChars (as quoted in microsoft/sql-server-samples#348); the bootstrap
// reports it as {"error":{"code":"exception","message":...}}.
const ParamsTooLongMessage = "Error during serialization or deserialization using the JSON JavaScriptSerializer. " +
	"The length of the string exceeds the value set on the maxJsonLength property.\r\nParameter name: input"

// ParamsChars is the length of a UTF-8 JSON text as .NET counts string length (UTF-16
// code units), the measure MaxParamsChars applies to.
func ParamsChars(params []byte) int {
	n := 0
	for _, r := range string(params) {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// CommandParts splits Command into the program and its arguments, as the WS-Man Command
// message carries them when no cmd.exe runs in between (WINRS_SKIP_CMD_SHELL=TRUE).
func CommandParts() (program, arguments string) {
	program, arguments, _ = strings.Cut(Command(), " ")
	return program, arguments
}

// NoticeProgram is what the notice window's scheduled task runs: Windows PowerShell 5.1 by
// its full path (client-notify.ps1 fills in %SystemRoot%).
const NoticeProgram = `%SystemRoot%\System32\WindowsPowerShell\v1.0\powershell.exe`

// NoticeOptions are the fixed options of the notice window's task action. There is no
// -ExecutionPolicy (Group Policy's MachinePolicy and UserPolicy override it) and no -File
// (an unsigned script file does not run where policy is AllSigned): the launcher travels
// as -EncodedCommand, which execution policy does not apply to (configmgr.md section 12;
// AppLocker or WDAC Constrained Language Mode may still block it).
const NoticeOptions = "-NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand "

// MaxCommandLine is the longest command line Windows starts through cmd.exe; the task
// action stays within it (program, a space, and the arguments).
const MaxCommandLine = 8191

// noticeLauncher is the PowerShell the notice task runs. It holds two values, both
// checked hex, never text from a user: the SHA-256 of the window script and the notice
// ID. The window script (notice-window.ps1 with its libraries, about 6 KB) and the notice
// (up to 16,000 characters of base64) are together far too long for one command line
// (the encoded launcher alone is about 2.7 times its text), so both wait in files
// client-notify.ps1 writes under %ProgramData%\patchnight with an ACL that lets only
// SYSTEM and Administrators change them: the launcher reads the script, runs it only when
// its hash is the one patchnight sent, and hands it the notice as its parameter.
const noticeLauncher = `# patchnight notice launcher/1
$ErrorActionPreference = 'Stop'
$u = New-Object System.Text.UTF8Encoding $false
$d = Join-Path $env:ProgramData 'patchnight'
$t = [System.IO.File]::ReadAllText((Join-Path $d 'notice-window.ps1'), $u)
$h = New-Object System.Security.Cryptography.SHA256Managed
$s = [System.BitConverter]::ToString($h.ComputeHash($u.GetBytes($t))).Replace('-', '').ToLowerInvariant()
if ($s -ne '{{SHA256}}') { exit 3 }
$n = [System.IO.File]::ReadAllText((Join-Path $d 'notices\{{ID}}.txt'), $u).Trim()
$null = & ([ScriptBlock]::Create($t)) $n
`

var (
	hexID     = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// NoticeLauncher returns the launcher text for a notice ID (32 lower-case hex digits) and
// the SHA-256 (hex) of the window script's UTF-8 text.
func NoticeLauncher(id, windowSHA256 string) (string, error) {
	if !hexID.MatchString(id) {
		return "", fmt.Errorf("notice ID %q is not 32 lower-case hex digits", id)
	}
	if !hexSHA256.MatchString(windowSHA256) {
		return "", fmt.Errorf("window script hash %q is not a SHA-256 in hex", windowSHA256)
	}
	return strings.NewReplacer("{{SHA256}}", windowSHA256, "{{ID}}", id).Replace(noticeLauncher), nil
}

// NoticeArguments returns the argument list of the notice window's task action:
// NoticeOptions and the UTF-16LE base64 of NoticeLauncher(id, SHA-256 of windowScript).
func NoticeArguments(id, windowScript string) (string, error) {
	sum := sha256.Sum256([]byte(windowScript))
	l, err := NoticeLauncher(id, hex.EncodeToString(sum[:]))
	if err != nil {
		return "", err
	}
	args := NoticeOptions + encodeUTF16Base64(l)
	if n := len(NoticeProgram) + 1 + len(args); n > MaxCommandLine {
		return "", fmt.Errorf("the notice task's command line would be %d characters, over %d", n, MaxCommandLine)
	}
	return args, nil
}

// ParseNoticeArguments checks that args is an argument list NoticeArguments makes and
// returns the launcher text it carries.
func ParseNoticeArguments(args string) (string, error) {
	enc, ok := strings.CutPrefix(args, NoticeOptions)
	if !ok || strings.ContainsAny(enc, " \t\"'") {
		return "", fmt.Errorf("%w: want %q and base64", ErrBadCommand, NoticeOptions)
	}
	return ParseCommand(PowerShell + " -EncodedCommand " + enc)
}
