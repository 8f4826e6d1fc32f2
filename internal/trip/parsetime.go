package trip

import "time"

// ParseTime reads a pickup time as the web API, batch and streaming modes
// all accept it: YYYY-MM-DD[T| ]hh:mm[:ss[.fraction]][Z|±hh:mm]. A time
// without an offset is NYC local time; one with an offset is converted to
// NYC local time (ny; nil refuses offsets). The result carries the local
// clock in UTC, as trip times do. It does not allocate.
func ParseTime(s []byte, ny *time.Location) (time.Time, bool) {
	num := func(i, n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		v := 0
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	if len(s) < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') || s[13] != ':' {
		return time.Time{}, false
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	dd, ok3 := num(8, 2)
	hh, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, false
	}
	i, sec, nsec := 16, 0, 0
	if i < len(s) && s[i] == ':' {
		var ok bool
		if sec, ok = num(i+1, 2); !ok {
			return time.Time{}, false
		}
		i += 3
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			digits := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				if digits < 9 {
					nsec = nsec*10 + int(s[i]-'0')
					digits++
				}
				i++
			}
			if digits == 0 {
				return time.Time{}, false
			}
			for ; digits < 9; digits++ {
				nsec *= 10
			}
		}
	}
	if mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || sec > 60 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), dd, hh, mi, sec, nsec, time.UTC)
	if t.Day() != dd { // 2023-02-30 and the like
		return time.Time{}, false
	}
	if i == len(s) {
		return t, true
	}
	offset := 0
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		oh, ok := num(i+1, 2)
		if !ok {
			return time.Time{}, false
		}
		j := i + 3
		om := 0
		if j < len(s) && s[j] == ':' {
			j++
		}
		if j < len(s) {
			if om, ok = num(j, 2); !ok {
				return time.Time{}, false
			}
			j += 2
		}
		if oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
		i = j
	default:
		return time.Time{}, false
	}
	if i != len(s) || ny == nil {
		return time.Time{}, false
	}
	local := t.Add(-time.Duration(offset) * time.Second).In(ny)
	return time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), local.Nanosecond(), time.UTC), true
}
