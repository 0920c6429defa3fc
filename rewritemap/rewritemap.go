// Package rewritemap speaks Apache mod_rewrite's "prg:" map protocol: one
// key line in, one answer line out, in order, for as long as stdin is open.
//
// Apache runs the program once and funnels every lookup of every child
// through one pipe under a server-wide mutex, and it never restarts the
// program if it dies. So the rules here are absolute: exactly one answer line
// per key line whatever the line holds, never a crash, never a stall.
package rewritemap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

// MaxLine is the longest key line read as a whole. Apache limits a request
// header to 8190 bytes by default (LimitRequestFieldSize); percent-encoding
// can triple that, and the key holds three such fields. Of a longer line
// the first MaxLine bytes are kept and the rest is discarded in pieces,
// never buffered; ParseLine decides it on what was kept.
const MaxLine = 128 << 10

// Answer words. NULL is never sent: Apache would fall back to the map's
// default instead of our answer.
const (
	Allow    = "allow"
	Redirect = "redirect"
)

// Line is one key line as read: Text without its line ending, or TooLong
// when it did not fit in MaxLine bytes (Text then holds its first MaxLine
// bytes).
type Line struct {
	Text    []byte
	TooLong bool
}

// Answerer turns a line into its answer. It must not keep Text after it
// returns: the buffer is reused.
type Answerer interface {
	Answer(Line) string
	// Recover is called when Answer panics, with the recovered value; its
	// return value is sent instead.
	Recover(l Line, v any) string
}

// Afterer is an Answerer with work to do once an answer is on its way,
// such as logging it: Serve calls After after each flush, so that work is
// not paid by the request waiting for the answer (Apache holds a
// server-wide lock until it reads it).
type Afterer interface {
	After()
}

// Serve writes exactly one answer line to w for every line read from r, in
// order, and flushes after each. It returns nil when r reaches end of file
// (a last line without a newline is answered too) and an error only when
// reading or writing fails; an Answerer's panic is recovered and answered.
func Serve(r io.Reader, w io.Writer, a Answerer) error {
	br := bufio.NewReaderSize(r, MaxLine)
	bw := bufio.NewWriterSize(w, 256)
	after, _ := a.(Afterer)
	lines := 0
	var head []byte // the kept part of a line too long, reused
	for {
		l, raw, err := readLine(br, &head)
		if err != nil && raw == 0 {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read key: %w", err)
		}
		ans := answer(a, l)
		bw.WriteString(ans)
		bw.WriteByte('\n')
		if ferr := bw.Flush(); ferr != nil {
			return fmt.Errorf("write answer: %w", ferr)
		}
		if after != nil {
			runAfter(after)
		}
		if lines++; lines%yieldEvery == 0 {
			runtime.Gosched()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read key: %w", err)
		}
	}
}

// yieldEvery is how many lines Serve answers between calls to
// runtime.Gosched. A goroutine that only ever blocks in read(2) never
// passes through the scheduler, so after 10 ms on one scheduling tick the
// runtime's monitor thread takes its P away while it sits in read(2), hands
// the P to another thread, and then polls every 20 µs for a while. Under
// steady traffic that happened every 10 ms and cost round trips (measured
// with bench/roundtrip on one CPU, against the C echo's rate: whitelisted
// lines 0.73 without the yield and 0.88 with it, redirects 0.68 and 0.80;
// through Apache the map's context switches per lookup fell from 1.41 to
// 1.20). A yield costs about a hundred nanoseconds, once per 16 lines.
const yieldEvery = 16

func answer(a Answerer, l Line) (s string) {
	defer func() {
		if v := recover(); v != nil {
			s = a.Recover(l, v)
		}
	}()
	s = a.Answer(l)
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			// An answer with a line break would desync the pipe.
			panic("rewritemap: answer contains a line break")
		}
	}
	return s
}

// runAfter runs After; a panic there (in logging) must not end the loop.
func runAfter(a Afterer) {
	defer func() { recover() }()
	a.After()
}

// readLine reads one line, dropping "\n" or "\r\n". Of a line that does
// not fit in br's buffer (MaxLine), the first MaxLine bytes are copied to
// *head, which is reused from line to line, and the rest is consumed to its
// end without being kept. raw is the number of bytes read, so that a last
// line of just "\r" still counts as a line.
func readLine(br *bufio.Reader, head *[]byte) (l Line, raw int, err error) {
	b, err := br.ReadSlice('\n')
	raw = len(b)
	if errors.Is(err, bufio.ErrBufferFull) {
		// The kept part must be copied before the discarding reads
		// below reuse the buffer.
		*head = append((*head)[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = br.ReadSlice('\n')
			raw += len(b)
		}
		return Line{Text: *head, TooLong: true}, raw, err
	}
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return Line{Text: b}, raw, err
}

// Key is a parsed request line: the fields of the shipped RewriteCond,
// fields 2 to 4 decoded from Apache's int:escape.
type Key struct {
	Peer   netip.Addr
	Path   string
	XFF    string
	Cookie string
	// Site is the optional fifth field as written (a site name needs no
	// escaping, and one that is not a name is an unknown site, not an
	// unreadable line): "" when the line has four fields or an empty
	// fifth one, both the site default. It is not checked here.
	Site string
	// CookieCut reports that the line was cut at MaxLine inside its
	// Cookie field: Cookie is then "", as if the request had none.
	CookieCut bool
	// SiteLost reports that the line was cut at MaxLine before its end,
	// so its site field, if it had one, was not kept: Site is "", which
	// the caller must not take for the site default where sites exist.
	SiteLost bool
}

// ParseError says what is wrong with a key line, without repeating it.
// Cut marks a line too long to read whole that could not be decided on
// its kept part (it was cut inside the path or X-Forwarded-For, or that
// part is malformed). Its answer must not be on_error: an attacker who can
// make a line long must not choose the answer, so such a line is
// redirected.
type ParseError struct {
	Msg string
	Cut bool
}

func (e *ParseError) Error() string { return e.Msg }

// ParseKey parses "ADDR PATH XFF COOKIE [SITE]". Four or five fields
// separated by single spaces; the last four may be empty. The returned
// strings are the caller's to keep.
func ParseKey(line []byte) (Key, error) {
	var p Parser
	k, err := p.Parse(line)
	k.Site = strings.Clone(k.Site)
	return k, err
}

// SiteOf returns the site field of a line as Serve read it without
// parsing the rest, for the answer path to find the site's state first:
// the fifth field, aliasing l.Text; nil for a line of four fields (or
// fewer: ParseLine then says why it is unreadable). lost reports a line
// whose site cannot be known: cut at MaxLine (its site field was not
// kept), or of more than five fields.
func SiteOf(l Line) (site []byte, lost bool) {
	if l.TooLong {
		return nil, true
	}
	b := l.Text
	for n := 0; n < 4; n++ {
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			return nil, false
		}
		b = b[i+1:]
	}
	if bytes.IndexByte(b, ' ') >= 0 {
		return nil, true
	}
	return b, false
}

// ParseLine parses a line as Serve read it. A line cut at MaxLine
// (TooLong) is decided on what was kept: the address, path and
// X-Forwarded-For come first and must be whole; a Cookie field that was
// cut counts as no cookie (CookieCut), which can only take a bypass away.
// Apache lets a Cookie header reach 64 KiB (LimitRequestFieldSize 65536),
// three times that escaped: such a request is judged by its address and
// path, never by on_error. A line cut before its Cookie field is refused
// with a ParseError whose Cut is set.
func (p *Parser) ParseLine(l Line) (Key, error) {
	if !l.TooLong {
		return p.Parse(l.Text)
	}
	k, err := p.parse(l.Text, true)
	if pe, ok := err.(*ParseError); ok {
		pe.Msg = "line longer than " + strconv.Itoa(MaxLine) + " bytes: " + pe.Msg
		pe.Cut = true
	}
	return k, err
}

// Parser parses key lines into one reusable buffer, so the map loop
// allocates nothing per line. The zero Parser is ready to use.
type Parser struct{ buf []byte }

// Parse is ParseKey, except that the strings of the returned Key share the
// Parser's buffer, and Site the line itself: they are valid until the next
// call of Parse or the line's buffer is reused, and a caller that keeps
// one beyond that (a background lookup, a cache, a log) must copy it.
func (p *Parser) Parse(line []byte) (Key, error) { return p.parse(line, false) }

// parse parses a whole line, or with cut the kept head of a longer one.
func (p *Parser) parse(line []byte, cut bool) (Key, error) {
	var f [4][]byte
	rest := line
	for n := 0; n < 3; n++ {
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			if cut {
				return Key{}, &ParseError{Msg: "cut before the cookie field"}
			}
			return Key{}, &ParseError{Msg: fmt.Sprintf("%d fields, want 4 or 5", n+1)}
		}
		f[n], rest = rest[:i], rest[i+1:]
	}
	var site []byte
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		rest, site = rest[:i], rest[i+1:]
		if bytes.IndexByte(site, ' ') >= 0 {
			return Key{}, &ParseError{Msg: "more than 5 fields"}
		}
	}
	var k Key
	if cut {
		// The cut may fall anywhere after the third space: the cookie
		// kept may be whole or not, and the site field is lost.
		k.CookieCut, k.SiteLost = true, true
	} else {
		f[3] = rest
		if len(site) > 0 {
			k.Site = unsafe.String(&site[0], len(site))
		}
	}
	var err error
	if k.Peer, err = parseAddr(f[0]); err != nil {
		return Key{}, err
	}
	// Decoded fields are never longer than the line, so with this capacity
	// the appends below never move the buffer under strings already made.
	if cap(p.buf) < len(line) {
		p.buf = make([]byte, 0, max(len(line), 512))
	}
	p.buf = p.buf[:0]
	if k.Path, err = p.unescape(f[1], "path"); err != nil {
		return Key{}, err
	}
	if k.XFF, err = p.unescape(f[2], "x-forwarded-for"); err != nil {
		return Key{}, err
	}
	if k.Cookie, err = p.unescape(f[3], "cookie"); err != nil {
		return Key{}, err
	}
	return k, nil
}

// ParseAddr reads a client address as the map reads field 1 of a key
// line: an IPv4 or IPv6 address of at most 64 bytes, without a zone
// (Apache's REMOTE_ADDR never has one, and no whitelist entry can match
// one); "::ffff:10.1.2.3" is 10.1.2.3. `maintgate check` reads --ip with
// it, so that it judges exactly the peers the map judges.
func ParseAddr(s string) (netip.Addr, error) {
	if len(s) == 0 || len(s) > 64 {
		return netip.Addr{}, &ParseError{Msg: "client address missing or too long"}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, &ParseError{Msg: "client address is not an IP address"}
	}
	if a.Zone() != "" {
		return netip.Addr{}, &ParseError{Msg: "client address is not an IP address without a zone"}
	}
	return a.Unmap(), nil
}

func parseAddr(b []byte) (netip.Addr, error) {
	if len(b) == 0 {
		return ParseAddr("")
	}
	// netip keeps nothing of the string it parses (a zone, which it
	// would keep, is refused), so it may alias the line.
	return ParseAddr(unsafe.String(&b[0], len(b)))
}

// unescape reverses Apache's int:escape (ap_escape_uri): "%xx" is one byte.
// A "%" not followed by two hex digits cannot come from Apache and makes
// the line unreadable. The result is appended to p.buf and aliases it.
func (p *Parser) unescape(b []byte, field string) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	from := len(p.buf)
	for {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			p.buf = append(p.buf, b...)
			break
		}
		p.buf = append(p.buf, b[:i]...)
		if i+2 >= len(b) {
			return "", &ParseError{Msg: field + ": truncated percent escape"}
		}
		h, l := unhex(b[i+1]), unhex(b[i+2])
		if h < 0 || l < 0 {
			return "", &ParseError{Msg: field + ": bad percent escape"}
		}
		p.buf = append(p.buf, byte(h<<4|l))
		b = b[i+3:]
	}
	return unsafe.String(&p.buf[from], len(p.buf)-from), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
