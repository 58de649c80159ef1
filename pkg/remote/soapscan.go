package remote

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf8"
)

// xmlScanner reads a SOAP answer in place, element by element, for the three answers an
// action parses (Create, Command, Receive: a few fields each). encoding/xml builds a token,
// a name and a namespace scope for every element and copies every text, which was a
// quarter of what the client allocated per action; the scanner allocates only the values
// it is asked for. It reads well-formed XML 1.0 as WinRM writes it: the declaration,
// processing instructions, comments, CDATA sections, namespace declarations (prefixed and
// default, scoped to their element), character and the predefined entity references. It
// stops at the end of the root element, as xml.Unmarshal does. A document type
// declaration, a mismatched end tag, an unknown entity or a truncated document is an
// error.
type xmlScanner struct {
	data []byte
	pos  int

	// Open elements, in-scope namespace declarations, the last start tag's attributes:
	// fixed arrays (a scanner on the caller's stack allocates nothing; slices into its
	// own arrays would move it to the heap). Deeper documents, more declarations in
	// scope or more attributes on one element than these hold are refused.
	stack    [32]openElem
	ns       [32]nsBinding
	attrs    [16]rawAttr
	nStack   int
	nNS      int
	nAttrs   int
	selfEnd  bool // the last start tag was <e/>: the next event is its end
	rootDone bool
}

type openElem struct {
	qname []byte // the name as written, to match the end tag
	local []byte
	space []byte // the namespace the prefix stands for (the prefix itself when undeclared)
	nsLen int    // len(ns) before this element's declarations
}

type nsBinding struct {
	prefix, uri []byte // prefix "" is the default namespace
}

type rawAttr struct {
	local, value []byte // value as written (references not yet replaced)
}

type xmlEvent uint8

const (
	evStart xmlEvent = iota + 1
	evEnd
	evText  // character data: scanner.text (raw, or cdata)
	evCDATA // a CDATA section: scanner.text as is
	evDone  // the root element ended
)

var errXML = errors.New("malformed XML")

// init starts reading data.
func (s *xmlScanner) init(data []byte) {
	s.data, s.pos, s.nStack, s.nNS, s.nAttrs, s.selfEnd, s.rootDone = data, 0, 0, 0, 0, false, false
}

// next returns the next event; text is the character data of evText and evCDATA.
func (s *xmlScanner) next() (ev xmlEvent, text []byte, err error) {
	if s.selfEnd {
		s.selfEnd = false
		return s.end(), nil, nil
	}
	for {
		if s.rootDone {
			return evDone, nil, nil
		}
		if s.pos >= len(s.data) {
			return 0, nil, errXML // unclosed root, or no root at all
		}
		rest := s.data[s.pos:]
		if rest[0] != '<' {
			i := bytes.IndexByte(rest, '<')
			if i < 0 {
				i = len(rest)
			}
			s.pos += i
			if s.nStack == 0 {
				if len(bytes.TrimSpace(rest[:i])) > 0 {
					return 0, nil, errXML // text outside the root
				}
				continue
			}
			if err := checkRefs(rest[:i]); err != nil {
				return 0, nil, err
			}
			return evText, rest[:i], nil
		}
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			i := bytes.Index(rest, []byte("?>"))
			if i < 0 {
				return 0, nil, errXML
			}
			s.pos += i + 2
		case bytes.HasPrefix(rest, []byte("<!--")):
			i := bytes.Index(rest[4:], []byte("-->"))
			if i < 0 {
				return 0, nil, errXML
			}
			s.pos += 4 + i + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			if s.nStack == 0 {
				return 0, nil, errXML
			}
			i := bytes.Index(rest[9:], []byte("]]>"))
			if i < 0 {
				return 0, nil, errXML
			}
			s.pos += 9 + i + 3
			return evCDATA, rest[9 : 9+i], nil
		case bytes.HasPrefix(rest, []byte("<!")):
			return 0, nil, errXML // document type declarations are refused
		case bytes.HasPrefix(rest, []byte("</")):
			i := bytes.IndexByte(rest, '>')
			if i < 0 || s.nStack == 0 {
				return 0, nil, errXML
			}
			name := bytes.TrimRight(rest[2:i], " \t\r\n")
			if !bytes.Equal(name, s.stack[s.nStack-1].qname) {
				return 0, nil, errXML
			}
			s.pos += i + 1
			return s.end(), nil, nil
		default:
			return s.start()
		}
	}
}

// end closes the innermost element.
func (s *xmlScanner) end() xmlEvent {
	s.nStack--
	s.nNS = s.stack[s.nStack].nsLen
	if s.nStack == 0 {
		s.rootDone = true
	}
	return evEnd
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// nameEnd returns the length of the name at the start of b.
func nameEnd(b []byte) int {
	for i, c := range b {
		if isSpace(c) || c == '/' || c == '>' || c == '=' || c == '<' || c == '"' || c == '\'' {
			return i
		}
	}
	return len(b)
}

// start reads a start tag at s.pos.
func (s *xmlScanner) start() (xmlEvent, []byte, error) {
	b := s.data[s.pos+1:]
	n := nameEnd(b)
	if n == 0 {
		return 0, nil, errXML
	}
	qname := b[:n]
	i := n
	s.nAttrs = 0
	nsLen := s.nNS
	self := false
	for {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) {
			return 0, nil, errXML
		}
		if b[i] == '>' {
			i++
			break
		}
		if b[i] == '/' {
			if i+1 >= len(b) || b[i+1] != '>' {
				return 0, nil, errXML
			}
			i += 2
			self = true
			break
		}
		an := nameEnd(b[i:])
		if an == 0 {
			return 0, nil, errXML
		}
		aname := b[i : i+an]
		i += an
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || b[i] != '=' {
			return 0, nil, errXML
		}
		i++
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || (b[i] != '"' && b[i] != '\'') {
			return 0, nil, errXML
		}
		q := b[i]
		j := bytes.IndexByte(b[i+1:], q)
		if j < 0 {
			return 0, nil, errXML
		}
		val := b[i+1 : i+1+j]
		if bytes.IndexByte(val, '<') >= 0 || checkRefs(val) != nil {
			return 0, nil, errXML
		}
		i += 1 + j + 1
		prefix, local, ok := bytes.Cut(aname, []byte(":"))
		switch {
		case !ok && bytes.Equal(aname, []byte("xmlns")), ok && bytes.Equal(prefix, []byte("xmlns")):
			if s.nNS == len(s.ns) {
				return 0, nil, errXML
			}
			if !ok {
				local = nil
			}
			s.ns[s.nNS] = nsBinding{prefix: local, uri: val}
			s.nNS++
		default:
			if !ok {
				local = aname
			}
			if s.nAttrs == len(s.attrs) {
				return 0, nil, errXML
			}
			s.attrs[s.nAttrs] = rawAttr{local: local, value: val}
			s.nAttrs++
		}
	}
	s.pos += 1 + i
	prefix, local, ok := bytes.Cut(qname, []byte(":"))
	if !ok {
		prefix, local = nil, qname
	}
	space := prefix
	for k := s.nNS - 1; k >= 0; k-- {
		if bytes.Equal(s.ns[k].prefix, prefix) {
			space = s.ns[k].uri
			break
		}
	}
	if s.nStack == len(s.stack) {
		return 0, nil, errXML
	}
	s.stack[s.nStack] = openElem{qname: qname, local: local, space: space, nsLen: nsLen}
	s.nStack++
	s.selfEnd = self
	return evStart, nil, nil
}

// depth is the number of open elements (1 inside the root).
func (s *xmlScanner) depth() int { return s.nStack }

// at reports whether the open element at depth d (0: the root) is local in space.
func (s *xmlScanner) at(d int, space, local string) bool {
	if d >= s.nStack {
		return false
	}
	e := &s.stack[d]
	return string(e.local) == local && string(e.space) == space
}

// attrBytes returns the value of the innermost start tag's attribute of that local name
// (any prefix, as encoding/xml matches an attribute field without a namespace), as
// written when it holds no reference, else a copy with the references replaced.
func (s *xmlScanner) attrBytes(local string) ([]byte, bool, error) {
	for _, a := range s.attrs[:s.nAttrs] {
		if string(a.local) == local {
			if bytes.IndexByte(a.value, '&') < 0 {
				return a.value, true, nil
			}
			v, err := appendText(nil, a.value)
			return v, true, err
		}
	}
	return nil, false, nil
}

// chars gathers an element's character data: the text as written when it came in one
// piece without references (no copy), else a copy with the references replaced.
type chars struct {
	text, buf []byte
	pieces    int
}

func (c *chars) reset() { c.text, c.buf, c.pieces = nil, c.buf[:0], 0 }

func (c *chars) add(ev xmlEvent, t []byte) error {
	if c.pieces == 0 && (ev == evCDATA || bytes.IndexByte(t, '&') < 0) {
		c.text, c.pieces = t, 1
		return nil
	}
	if c.pieces == 1 && len(c.buf) == 0 {
		c.buf = append(c.buf, c.text...)
	}
	var err error
	if ev == evCDATA {
		c.buf = append(c.buf, t...)
	} else {
		c.buf, err = appendText(c.buf, t)
	}
	c.text = c.buf
	c.pieces++
	return err
}

// attrIs reports whether the innermost start tag has the attribute local (any prefix)
// with the value want (references replaced); a broken reference is an error.
func (s *xmlScanner) attrIs(local, want string) (bool, error) {
	for _, a := range s.attrs[:s.nAttrs] {
		if string(a.local) != local {
			continue
		}
		if bytes.IndexByte(a.value, '&') < 0 {
			return string(a.value) == want, nil
		}
		v, err := appendText(nil, a.value)
		return string(v) == want, err
	}
	return false, nil
}

// checkRefs reports a broken entity or character reference in character data as written.
func checkRefs(raw []byte) error {
	var room [8]byte
	for {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			return nil
		}
		j := bytes.IndexByte(raw[i:], ';')
		if j < 0 {
			return errXML
		}
		if _, err := appendText(room[:0], raw[i:i+j+1]); err != nil {
			return err
		}
		raw = raw[i+j+1:]
	}
}

// appendText appends character data as written, with its entity and character
// references replaced, to dst.
func appendText(dst, raw []byte) ([]byte, error) {
	for {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		j := bytes.IndexByte(raw, ';')
		if j < 0 {
			return dst, errXML
		}
		ref := raw[1:j]
		raw = raw[j+1:]
		switch string(ref) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "apos":
			dst = append(dst, '\'')
		case "quot":
			dst = append(dst, '"')
		default:
			if len(ref) < 2 || ref[0] != '#' {
				return dst, errXML
			}
			var n uint64
			var err error
			if ref[1] == 'x' {
				n, err = strconv.ParseUint(string(ref[2:]), 16, 32)
			} else {
				n, err = strconv.ParseUint(string(ref[1:]), 10, 32)
			}
			if err != nil || n == 0 || !utf8.ValidRune(rune(n)) {
				return dst, errXML
			}
			dst = utf8.AppendRune(dst, rune(n))
		}
	}
}
