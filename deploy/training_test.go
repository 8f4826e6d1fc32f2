package deploy

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/taxieta/taxieta/internal/tlc"
)

// loadTraining strict-decodes every document in deploy/kubernetes/training:
// the Jobs by name, and the claims by name.
func loadTraining(t *testing.T) (map[string]*batchv1.Job, map[string]*corev1.PersistentVolumeClaim) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "training", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes/training (%v)", err)
	}
	jobs, claims := map[string]*batchv1.Job{}, map[string]*corev1.PersistentVolumeClaim{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, err := decodeStrict(doc)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			switch o := obj.(type) {
			case *batchv1.Job:
				jobs[o.Name] = o
			case *corev1.PersistentVolumeClaim:
				claims[o.Name] = o
			default:
				t.Fatalf("%s: unexpected %s", file, typeName(obj))
			}
			if n := obj.(interface{ GetNamespace() string }).GetNamespace(); n != "" {
				t.Fatalf("%s: namespace %q: want none (kubectl apply -n chooses it)", file, n)
			}
		}
	}
	return jobs, claims
}

// trainingPod is a training Job's taxieta container: its command ("train
// map"), its flags and environment, and its volumes by mount path.
type trainingPod struct {
	command string
	args    []string
	env     map[string]string
	mounts  map[string]string // mount path -> claim name (or "emptyDir")
}

func podOf(t *testing.T, j *batchv1.Job) trainingPod {
	t.Helper()
	spec := j.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("job %s: %d containers, want 1", j.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	if len(c.Args) < 2 || c.Args[0] != "train" {
		t.Fatalf("job %s: args %v: want train map|merge", j.Name, c.Args)
	}
	p := trainingPod{command: c.Args[0] + " " + c.Args[1], args: c.Args[2:], env: map[string]string{}, mounts: map[string]string{}}
	for _, e := range c.Env {
		p.env[e.Name] = e.Value
	}
	vols := map[string]string{}
	for _, v := range spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			vols[v.Name] = v.PersistentVolumeClaim.ClaimName
		case v.EmptyDir != nil:
			vols[v.Name] = "emptyDir"
		}
	}
	for _, m := range c.VolumeMounts {
		p.mounts[m.MountPath] = vols[m.Name]
	}
	// Every flag and TAXIETA_* variable is a flag of the command: the
	// program ignores a misspelt variable.
	flags := flagEnv(t, p.command)
	for k := range p.env {
		if strings.HasPrefix(k, "TAXIETA_") && !flags[k] {
			t.Errorf("job %s: %s sets no flag of taxieta %s", j.Name, k, p.command)
		}
	}
	for _, a := range p.args {
		f, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !flags[envName(f)] {
			t.Errorf("job %s: %q is no flag of taxieta %s", j.Name, a, p.command)
		}
	}
	// The same hardening as the Deployments.
	psc, csc := spec.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") ||
		spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken || spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Errorf("job %s: want a non-root, read-only, capability-free pod without token or service links", j.Name)
	}
	if p.mounts["/tmp"] != "emptyDir" {
		t.Errorf("job %s: no emptyDir at /tmp", j.Name)
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		if !okReq || !okLim || req.Cmp(lim) > 0 {
			t.Errorf("job %s %s: want a request within a limit", j.Name, name)
		}
	}
	return p
}

// The map step is an Indexed Job with one completion index per month of
// its training set; the merge reads what the map writes, on the same
// claim, and expects as many shards.
func TestKubernetesTrainingJobs(t *testing.T) {
	jobs, claims := loadTraining(t)
	mapJob, mergeJob := jobs["taxieta-train-map"], jobs["taxieta-train-merge"]
	if mapJob == nil || mergeJob == nil || len(jobs) != 2 {
		t.Fatalf("jobs %v: want taxieta-train-map and taxieta-train-merge", slices.Collect(func(yield func(string) bool) {
			for k := range jobs {
				if !yield(k) {
					return
				}
			}
		}))
	}
	m, g := podOf(t, mapJob), podOf(t, mergeJob)
	if m.command != "train map" || g.command != "train merge" {
		t.Fatalf("commands %q and %q: want train map and train merge", m.command, g.command)
	}
	if mapJob.Spec.CompletionMode == nil || *mapJob.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("map job: completionMode %v, want Indexed", mapJob.Spec.CompletionMode)
	}
	if !slices.Contains(m.args, "--index=$(JOB_COMPLETION_INDEX)") {
		t.Errorf("map job args %v: want --index=$(JOB_COMPLETION_INDEX)", m.args)
	}
	months, err := tlc.ParseSpec(m.env["TAXIETA_TRAIN"])
	if err != nil {
		t.Fatalf("map job TAXIETA_TRAIN: %v", err)
	}
	if c := mapJob.Spec.Completions; c == nil || int(*c) != len(months) {
		t.Errorf("map job: completions %s for %d months of %s", strconv.Itoa(int(ptrOr(c))), len(months), m.env["TAXIETA_TRAIN"])
	}
	expect, _ := flagValue(g.args, "expect")
	if n, err := strconv.Atoi(expect); err != nil || n != len(months) {
		t.Errorf("merge job --expect %q: want the %d months", expect, len(months))
	}
	if mergeJob.Spec.CompletionMode != nil && *mergeJob.Spec.CompletionMode == batchv1.IndexedCompletion {
		t.Error("merge job: one pod, not indexed")
	}
	// The map writes where the merge reads, on one claim both mount.
	under := func(p trainingPod, path string) string {
		for mp, claim := range p.mounts {
			if path == mp || strings.HasPrefix(path, mp+"/") {
				return claim
			}
		}
		return ""
	}
	if m.env["TAXIETA_OUT"] == "" || m.env["TAXIETA_OUT"] != g.env["TAXIETA_STATS"] {
		t.Errorf("map writes to %q, merge reads %q", m.env["TAXIETA_OUT"], g.env["TAXIETA_STATS"])
	}
	claim := under(m, m.env["TAXIETA_OUT"])
	if claim == "" || claim == "emptyDir" || claim != under(g, g.env["TAXIETA_STATS"]) || claims[claim] == nil {
		t.Errorf("statistics on claim %q (map) and %q (merge); claims defined: %d", claim, under(g, g.env["TAXIETA_STATS"]), len(claims))
	}
	if c := claims[claim]; c != nil && !slices.Contains(c.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("claim %s: access modes %v: map pods on several nodes need ReadWriteMany", claim, c.Spec.AccessModes)
	}
	if under(g, g.env["TAXIETA_OUT"]) != claim {
		t.Errorf("merge writes the model to %q, not on the shared claim", g.env["TAXIETA_OUT"])
	}
}

// ptrOr is *p, or 0 for nil.
func ptrOr(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
