package training

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/taxieta/taxieta/internal/model"
	"github.com/taxieta/taxieta/internal/tlc"
	"github.com/taxieta/taxieta/internal/trip"
)

// shardMagic opens an encoded Shard; the version changes whenever the
// header's layout or meaning does (the statistics carry a version of
// their own).
const shardMagic = "taxieta-shard v1\n"

// ShardExt is the file name extension of statistics files.
const ShardExt = ".stats"

// ShardHeader says where a shard's statistics come from: what trained
// them, with which cleaning rules, and which input file of which training
// set. Shards merge only when everything but Ordinal, Input and Cleaned
// agrees.
type ShardHeader struct {
	// Trainer is the version of taxieta that read the file.
	Trainer string `json:"trainer"`
	// Rules and Cleaning are the cleaning rules and their description
	// (Rules.Describe), so that a change of either wording or values
	// shows.
	Rules    trip.Rules `json:"rules"`
	Cleaning []string   `json:"cleaning"`
	// Sources are the training set's sources as given; Files is how many
	// files they resolve to, and Ordinal which of them this shard is
	// (its place in the training set, which the statistics depend on).
	Sources []string `json:"sources"`
	Files   int      `json:"files"`
	Ordinal int      `json:"ordinal"`
	// Input is the file read (name, size, sha256, rows, kept) and
	// Cleaned what cleaning did to its rows.
	Input   trip.DataFile `json:"input"`
	Cleaned trip.Stats    `json:"cleaned"`
}

// Shard is the map step's output: the training statistics of one input
// file and where they come from.
type Shard struct {
	Header ShardHeader
	Stats  *model.Stats
}

// MapShard reads file index (0-based) of what sources resolve to into a
// shard: the same statistics that Aggregate folds that file into.
func MapShard(ctx context.Context, r *tlc.Resolver, rules trip.Rules, trainer string, sources []string, index int) (*Shard, error) {
	files, err := r.Resolve(ctx, sources...)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(files) {
		return nil, fmt.Errorf("file index %d: %v resolve to %d files (indexes 0..%d)", index, sources, len(files), len(files)-1)
	}
	st := model.NewStats()
	info, cs, err := AggregateFile(ctx, files[index], index, rules, st)
	if err != nil {
		return nil, err
	}
	return &Shard{Header: ShardHeader{
		Trainer: trainer, Rules: rules, Cleaning: rules.Describe(),
		Sources: slices.Clone(sources), Files: len(files), Ordinal: index,
		Input: info, Cleaned: cs,
	}, Stats: st}, nil
}

// MarshalBinary encodes the shard deterministically: the magic line, the
// header as one line of JSON, the encoded statistics, and the sha256 of
// all that. The same input file read by the same trainer with the same
// rules as the same file of the same training set gives the same bytes.
func (s *Shard) MarshalBinary() ([]byte, error) {
	h, err := json.Marshal(s.Header)
	if err != nil {
		return nil, fmt.Errorf("statistics file header: %w", err)
	}
	st, err := s.Stats.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(shardMagic)+len(h)+1+len(st)+sha256.Size)
	b = append(append(append(append(b, shardMagic...), h...), '\n'), st...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// errShard is wrapped into every decoding error.
var errShard = errors.New("not a valid statistics file")

// UnmarshalBinary decodes what MarshalBinary wrote, checking the format,
// the checksum, and that the statistics are those of the header's file.
func (s *Shard) UnmarshalBinary(data []byte) error {
	if !bytes.HasPrefix(data, []byte(shardMagic)) {
		if i := bytes.IndexByte(data, '\n'); i > 0 && i < 64 && bytes.HasPrefix(data, []byte("taxieta-shard ")) {
			return fmt.Errorf("%w: format %q; this build reads %q", errShard, data[:i], shardMagic[:len(shardMagic)-1])
		}
		return fmt.Errorf("%w: it does not start with %q", errShard, shardMagic[:len(shardMagic)-1])
	}
	if len(data) < len(shardMagic)+sha256.Size {
		return fmt.Errorf("%w: truncated", errShard)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return fmt.Errorf("%w: checksum mismatch (truncated or corrupted)", errShard)
	}
	body = body[len(shardMagic):]
	nl := bytes.IndexByte(body, '\n')
	if nl < 0 {
		return fmt.Errorf("%w: no header", errShard)
	}
	dec := json.NewDecoder(bytes.NewReader(body[:nl]))
	dec.DisallowUnknownFields()
	var h ShardHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("%w: header: %v", errShard, err)
	}
	st := model.NewStats()
	if err := st.UnmarshalBinary(body[nl+1:]); err != nil {
		return fmt.Errorf("%w: %w", errShard, err)
	}
	files := st.Files()
	switch {
	case h.Files < 1 || h.Ordinal < 0 || h.Ordinal >= h.Files:
		return fmt.Errorf("%w: file %d of %d", errShard, h.Ordinal, h.Files)
	case len(files) != 1 || files[0].Ordinal != h.Ordinal || files[0].Trips != h.Cleaned.Kept || h.Input.Kept != h.Cleaned.Kept:
		return fmt.Errorf("%w: the statistics are not those of the header's file %d (%d trips kept)", errShard, h.Ordinal, h.Cleaned.Kept)
	}
	s.Header, s.Stats = h, st
	return nil
}

// WriteShard writes s into dir under a content-addressed name (the sha256
// of its bytes, then ShardExt), through a temporary file renamed into
// place, and returns the path. Writing the same shard again leaves the
// same single file.
func WriteShard(dir string, s *Shard) (string, error) {
	b, err := s.MarshalBinary()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	path := filepath.Join(dir, hex.EncodeToString(sum[:])+ShardExt)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("statistics directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".shard-*.tmp")
	if err != nil {
		return "", fmt.Errorf("write statistics: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("write statistics: %w", err)
	}
	return path, nil
}

// ReadShard reads and checks the statistics file at path.
func ReadShard(path string) (*Shard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("statistics file: %w", err)
	}
	var s Shard
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// ShardPaths lists the statistics files that args name: a file as is, a
// directory as the *.stats files in it, sorted.
func ShardPaths(args []string) ([]string, error) {
	var paths []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("statistics: %w", err)
		}
		if !fi.IsDir() {
			paths = append(paths, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*"+ShardExt))
		if err != nil {
			return nil, fmt.Errorf("statistics: %s: %w", a, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("statistics: %s holds no *%s files", a, ShardExt)
		}
		paths = append(paths, m...)
	}
	return paths, nil
}

// MergeShards merges the statistics files at paths into the statistics and
// training-set description that Aggregate gives for the same sources,
// whatever the order of paths. The shards must agree with each other and
// with trainer (trainer version, cleaning rules, sources); a file may come
// twice only with the same content; every file of the training set must be
// there, and expect, if positive, must be their number. Errors name the
// file and what differs. It returns the shards' cleaning rules too.
func MergeShards(paths []string, trainer string, expect int) (*model.Stats, model.Dataset, trip.Rules, error) {
	var (
		first *ShardHeader
		from  string
		byOrd = map[int]*Shard{}
		where = map[int]string{}
	)
	for _, p := range paths {
		s, err := ReadShard(p)
		if err != nil {
			return nil, model.Dataset{}, trip.Rules{}, err
		}
		h := &s.Header
		if h.Trainer != trainer {
			return nil, model.Dataset{}, trip.Rules{}, fmt.Errorf("%s: written by %q; this is %q", p, h.Trainer, trainer)
		}
		if first == nil {
			first, from = h, p
		} else if d := headerDiff(first, h); d != "" {
			return nil, model.Dataset{}, trip.Rules{}, fmt.Errorf("%s: %s differ from %s's", p, d, from)
		}
		if o, ok := byOrd[h.Ordinal]; ok {
			if o.Header.Input != h.Input {
				return nil, model.Dataset{}, trip.Rules{}, fmt.Errorf("%s: file %d is %s (sha256 %s), but in %s it is %s (sha256 %s)",
					p, h.Ordinal, h.Input.Name, h.Input.SHA256, where[h.Ordinal], o.Header.Input.Name, o.Header.Input.SHA256)
			}
			continue // the same file mapped twice: one is enough
		}
		byOrd[h.Ordinal], where[h.Ordinal] = s, p
	}
	if first == nil {
		return nil, model.Dataset{}, trip.Rules{}, errors.New("no statistics files")
	}
	if expect > 0 && expect != first.Files {
		return nil, model.Dataset{}, trip.Rules{}, fmt.Errorf("expected %d shards, but the training set %v of %s has %d files", expect, first.Sources, from, first.Files)
	}
	var missing []string
	for i := range first.Files {
		if byOrd[i] == nil {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		return nil, model.Dataset{}, trip.Rules{}, fmt.Errorf("missing shards: file %s of the %d files of %v (have %d: %s)",
			strings.Join(missing, ", "), first.Files, first.Sources, len(byOrd), strings.Join(paths, ", "))
	}
	set := model.Dataset{Sources: first.Sources}
	st := model.NewStats()
	for i := range first.Files {
		s := byOrd[i]
		if err := st.Merge(s.Stats); err != nil {
			return nil, set, trip.Rules{}, fmt.Errorf("%s: %w", where[i], err)
		}
		set.Files = append(set.Files, s.Header.Input)
		set.Stats.Add(s.Header.Cleaned)
		byOrd[i] = nil // its memory can go
	}
	if st.Trips() == 0 {
		return nil, set, trip.Rules{}, fmt.Errorf("%v: %w (%d rows read)", set.Sources, ErrNoData, set.Stats.Read)
	}
	return st, set, first.Rules, nil
}

// headerDiff says what of the training set b's header differs from a's,
// or "" when they agree.
func headerDiff(a, b *ShardHeader) string {
	var d []string
	if a.Rules != b.Rules || !slices.Equal(a.Cleaning, b.Cleaning) {
		d = append(d, fmt.Sprintf("cleaning rules (%+v, not %+v)", b.Rules, a.Rules))
	}
	if !slices.Equal(a.Sources, b.Sources) || a.Files != b.Files {
		d = append(d, fmt.Sprintf("training sources (%v in %d files, not %v in %d)", b.Sources, b.Files, a.Sources, a.Files))
	}
	return strings.Join(d, " and ")
}
