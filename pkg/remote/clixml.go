package remote

import (
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
)

// clixmlEscape matches PowerShell's _xHHHH_ escapes of characters XML cannot carry.
var clixmlEscape = regexp.MustCompile(`_x([0-9A-Fa-f]{4})_`)

// DecodeCLIXML turns what powershell.exe writes to a redirected stderr ("#< CLIXML" and
// an <Objs> document of serialized records) into plain text: the error records, one per
// line, with _xHHHH_ escapes decoded; progress and other records are dropped. Text that is
// not CLIXML is returned unchanged (trimmed). Malformed CLIXML yields what could be read.
func DecodeCLIXML(s string) string {
	t := strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(t, "#< CLIXML")
	if !ok {
		return t
	}
	d := xml.NewDecoder(strings.NewReader(rest))
	d.Strict = false
	var (
		out      []string
		cur      strings.Builder
		inS      bool // inside <S S="Error">
		errObj   int  // depth of an open <Obj S="Error">, 0 if none
		inToStr  bool // inside the <ToString> of that Obj
		depth    int
		gotToStr bool
	)
	flush := func() {
		if v := strings.TrimRight(unescapeCLIXML(cur.String()), "\r\n"); strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
		cur.Reset()
	}
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch x := tok.(type) {
		case xml.StartElement:
			depth++
			stream := ""
			for _, a := range x.Attr {
				if a.Name.Local == "S" {
					stream = a.Value
				}
			}
			switch {
			case x.Name.Local == "S" && strings.EqualFold(stream, "Error"):
				inS = true
			case x.Name.Local == "Obj" && strings.EqualFold(stream, "Error") && errObj == 0:
				errObj, gotToStr = depth, false
			case x.Name.Local == "ToString" && errObj != 0 && depth == errObj+1 && !gotToStr:
				inToStr = true
			}
		case xml.EndElement:
			switch {
			case inS && x.Name.Local == "S":
				inS = false
				// Consecutive <S S="Error"> elements are pieces of one message; their own
				// _x000D__x000A_ escapes carry the line breaks.
			case inToStr && x.Name.Local == "ToString":
				inToStr, gotToStr = false, true
				flush()
			case errObj != 0 && depth == errObj && x.Name.Local == "Obj":
				errObj = 0
			}
			depth--
		case xml.CharData:
			if inS || inToStr {
				cur.Write(x)
			}
		}
	}
	flush()
	var lines []string
	for _, o := range out {
		for _, l := range strings.Split(strings.ReplaceAll(o, "\r\n", "\n"), "\n") {
			if l = strings.TrimRight(l, " \r"); strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
	}
	return strings.Join(lines, "\n")
}

func unescapeCLIXML(s string) string {
	return clixmlEscape.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseUint(m[2:6], 16, 32)
		if err != nil {
			return m
		}
		return string(rune(n))
	})
}
