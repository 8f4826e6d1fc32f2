package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/taxieta/taxieta/internal/httpapi"
)

// kinds maps apiVersion/kind to the k8s.io/api type a manifest decodes into.
// A manifest of any other kind is an error, so every file is checked.
var kinds = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
}

// decodeStrict decodes one YAML document into its k8s.io/api type; unknown
// and duplicate fields are errors.
func decodeStrict(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, errors.New("unexpected apiVersion/kind " + tm.APIVersion + "/" + tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// cluster is every object in deploy/kubernetes, one of each kind.
type cluster struct {
	configMap  *corev1.ConfigMap
	service    *corev1.Service
	deployment *appsv1.Deployment
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
}

// loadCluster decodes every document of every YAML file in deploy/kubernetes.
func loadCluster(t *testing.T) cluster {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes (%v)", err)
	}
	var c cluster
	seen := map[string]string{}
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
			kind := typeName(obj)
			if prev, dup := seen[kind]; dup {
				t.Fatalf("%s: a second %s (the first is in %s)", file, kind, prev)
			}
			seen[kind] = file
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				c.configMap = o
			case *corev1.Service:
				c.service = o
			case *appsv1.Deployment:
				c.deployment = o
			case *autoscalingv2.HorizontalPodAutoscaler:
				c.hpa = o
			case *policyv1.PodDisruptionBudget:
				c.pdb = o
			}
		}
	}
	if c.configMap == nil || c.service == nil || c.deployment == nil || c.hpa == nil || c.pdb == nil {
		t.Fatalf("want a ConfigMap, Service, Deployment, HorizontalPodAutoscaler and PodDisruptionBudget; found %v", seen)
	}
	return c
}

func typeName(v any) string {
	switch v.(type) {
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.Service:
		return "Service"
	case *appsv1.Deployment:
		return "Deployment"
	case *autoscalingv2.HorizontalPodAutoscaler:
		return "HorizontalPodAutoscaler"
	case *policyv1.PodDisruptionBudget:
		return "PodDisruptionBudget"
	}
	return "?"
}

// stripComments drops full-line YAML comments, to tell an empty document.
func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

func TestDecodeIsStrict(t *testing.T) {
	deployment, err := os.ReadFile(filepath.Join("kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{name: "the real file", doc: string(deployment)},
		{name: "misspelt probe field", doc: strings.Replace(string(deployment), "path: /readyz", "pth: /readyz", 1), wantErr: `unknown field "pth"`},
		{name: "field at the wrong level", doc: strings.Replace(string(deployment), "  replicas: 2", "  replicas: 2\n  terminationGracePeriodSeconds: 20", 1), wantErr: "unknown field"},
		{name: "duplicate field", doc: strings.Replace(string(deployment), "  replicas: 2", "  replicas: 2\n  replicas: 3", 1), wantErr: "replicas"},
		{name: "wrong type", doc: strings.Replace(string(deployment), "  replicas: 2", "  replicas: two", 1), wantErr: "replicas"},
		{name: "unknown kind", doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n", wantErr: "unexpected apiVersion/kind v1/Secret"},
		{name: "old API version", doc: strings.Replace(string(deployment), "apiVersion: apps/v1", "apiVersion: apps/v1beta1", 1), wantErr: "unexpected apiVersion/kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStrict([]byte(tt.doc))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decode error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// container returns the taxieta container of the Deployment.
func (c cluster) container(t *testing.T) corev1.Container {
	t.Helper()
	cs := c.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want one container in the Deployment, got %d", len(cs))
	}
	return cs[0]
}

// duration parses a Go duration from the ConfigMap.
func (c cluster) duration(t *testing.T, key string) time.Duration {
	t.Helper()
	v, ok := c.configMap.Data[key]
	if !ok {
		t.Fatalf("ConfigMap has no %s", key)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("ConfigMap %s=%q: %v", key, v, err)
	}
	return d
}

// portNumber resolves a probe's or Service's port (a number or a container port name).
func portNumber(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("port %q names no port of container %s", p.StrVal, c.Name)
	return 0
}

func TestKubernetesProbesMatchTheServer(t *testing.T) {
	c := loadCluster(t)
	ctr := c.container(t)
	listen := int32(addrPort(t, c.configMap.Data["TAXIETA_ADDR"]))
	if len(ctr.Ports) != 1 || ctr.Ports[0].ContainerPort != listen {
		t.Errorf("container ports %+v, want one at TAXIETA_ADDR's port %d", ctr.Ports, listen)
	}
	tests := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", ctr.StartupProbe, httpapi.PathHealthz},
		{"liveness", ctr.LivenessProbe, httpapi.PathHealthz},
		{"readiness", ctr.ReadinessProbe, httpapi.PathReadyz},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.probe == nil || tt.probe.HTTPGet == nil {
				t.Fatalf("no HTTP %s probe", tt.name)
			}
			if got := tt.probe.HTTPGet.Path; got != tt.path {
				t.Errorf("path %s, want the server's %s", got, tt.path)
			}
			if got := portNumber(t, ctr, tt.probe.HTTPGet.Port); got != listen {
				t.Errorf("port %d, want the server's %d", got, listen)
			}
		})
	}
	ann := c.deployment.Spec.Template.Annotations
	if ann["prometheus.io/path"] != httpapi.PathMetrics || ann["prometheus.io/port"] != strconv.Itoa(int(listen)) {
		t.Errorf("prometheus annotations %v, want path %s on port %d", ann, httpapi.PathMetrics, listen)
	}
	if got := portNumber(t, ctr, c.service.Spec.Ports[0].TargetPort); got != listen {
		t.Errorf("Service targets port %d, want %d", got, listen)
	}
}

func TestKubernetesGracePeriod(t *testing.T) {
	c := loadCluster(t)
	drain, grace := c.duration(t, "TAXIETA_DRAIN_DELAY"), c.duration(t, "TAXIETA_GRACE_PERIOD")
	const margin = 5 * time.Second
	tgp := c.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	if tgp == nil {
		t.Fatal("terminationGracePeriodSeconds is not set (Kubernetes' default is 30 s, unrelated to the server's)")
	}
	got := time.Duration(*tgp) * time.Second
	if want := drain + grace + margin; got < want {
		t.Errorf("terminationGracePeriodSeconds %s < drain delay %s + grace period %s + margin %s: SIGKILL could cut requests", got, drain, grace, margin)
	}
	if limit := drain + grace + 30*time.Second; got > limit {
		t.Errorf("terminationGracePeriodSeconds %s is far over drain delay %s + grace period %s: a stuck pod holds its node that long", got, drain, grace)
	}
	// The pod must leave the Service's endpoints (readiness fails) before the
	// server stops accepting connections at the end of the drain delay.
	rp := c.container(t).ReadinessProbe
	if notice := time.Duration(rp.PeriodSeconds*rp.FailureThreshold) * time.Second; notice >= drain {
		t.Errorf("readiness notices a drain after up to %s (period %ds × threshold %d), not within the drain delay %s", notice, rp.PeriodSeconds, rp.FailureThreshold, drain)
	}
}

func TestKubernetesSecurity(t *testing.T) {
	c := loadCluster(t)
	uid, gid := dockerfileUser(t)
	pod := c.deployment.Spec.Template.Spec
	ctr := c.container(t)
	psc, csc := pod.SecurityContext, ctr.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("want pod and container security contexts")
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"pod runAsNonRoot", psc.RunAsNonRoot != nil && *psc.RunAsNonRoot},
		{"container runAsNonRoot", csc.RunAsNonRoot != nil && *csc.RunAsNonRoot},
		{"runAsUser is the image's USER", psc.RunAsUser != nil && *psc.RunAsUser == uid},
		{"runAsGroup is the image's group", psc.RunAsGroup != nil && *psc.RunAsGroup == gid},
		{"readOnlyRootFilesystem", csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem},
		{"no privilege escalation", csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation},
		{"all capabilities dropped", csc.Capabilities != nil && slices.Contains(csc.Capabilities.Drop, "ALL")},
		{"seccomp RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"no service account token", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
		// A Service named taxieta would otherwise inject TAXIETA_PORT,
		// TAXIETA_SERVICE_HOST... into the flags' TAXIETA_* namespace.
		{"no service links", pod.EnableServiceLinks != nil && !*pod.EnableServiceLinks},
	}
	for _, ck := range checks {
		if !ck.ok {
			t.Errorf("%s: does not hold", ck.name)
		}
	}
	// With a read-only root, what the server writes needs a volume.
	mounts := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	emptyDirs := map[string]bool{}
	for _, v := range pod.Volumes {
		if v.EmptyDir != nil {
			emptyDirs[v.Name] = true
		}
	}
	for _, dir := range []string{"/tmp", c.configMap.Data["TAXIETA_CACHE_DIR"]} {
		if name, ok := mounts[dir]; !ok || !emptyDirs[name] {
			t.Errorf("no emptyDir mounted at %q", dir)
		}
	}
}

func TestKubernetesResources(t *testing.T) {
	c := loadCluster(t)
	res := c.container(t).Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := res.Requests[name]
		lim, hasLim := res.Limits[name]
		switch {
		case !hasReq || !hasLim:
			t.Errorf("%s: want a request and a limit, got request %v limit %v", name, res.Requests, res.Limits)
		case req.Cmp(lim) > 0:
			t.Errorf("%s: request %s over limit %s", name, req.String(), lim.String())
		}
	}
}

func TestKubernetesWiring(t *testing.T) {
	c := loadCluster(t)
	d := c.deployment
	podLabels := labels.Set(d.Spec.Template.Labels)
	selects := func(t *testing.T, what string, sel *metav1.LabelSelector) {
		t.Helper()
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatalf("%s selector: %v", what, err)
		}
		if s.Empty() || !s.Matches(podLabels) {
			t.Errorf("%s selector %q does not select the pods (labels %v)", what, s, podLabels)
		}
	}
	selects(t, "Deployment", d.Spec.Selector)
	selects(t, "PodDisruptionBudget", c.pdb.Spec.Selector)
	if sel := labels.SelectorFromSet(c.service.Spec.Selector); len(c.service.Spec.Selector) == 0 || !sel.Matches(podLabels) {
		t.Errorf("Service selector %v does not select the pods (labels %v)", c.service.Spec.Selector, podLabels)
	}

	ref := c.hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA targets %s %s %q, want apps/v1 Deployment %q", ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	minR := int32(1)
	if c.hpa.Spec.MinReplicas != nil {
		minR = *c.hpa.Spec.MinReplicas
	}
	if minR < 2 || c.hpa.Spec.MaxReplicas < minR {
		t.Errorf("HPA replicas %d..%d: want at least 2 (one may be evicted) and max >= min", minR, c.hpa.Spec.MaxReplicas)
	}
	if d.Spec.Replicas != nil && (*d.Spec.Replicas < minR || *d.Spec.Replicas > c.hpa.Spec.MaxReplicas) {
		t.Errorf("Deployment replicas %d outside the HPA's %d..%d", *d.Spec.Replicas, minR, c.hpa.Spec.MaxReplicas)
	}
	// The PDB must leave a ready pod at the HPA's minimum and still allow a drain.
	pdb := c.pdb.Spec
	switch {
	case pdb.MaxUnavailable != nil && pdb.MaxUnavailable.Type == intstr.Int:
		if mu := pdb.MaxUnavailable.IntVal; mu < 1 || mu >= minR {
			t.Errorf("PDB maxUnavailable %d: want 1..%d at %d replicas", mu, minR-1, minR)
		}
	case pdb.MinAvailable != nil && pdb.MinAvailable.Type == intstr.Int:
		if ma := pdb.MinAvailable.IntVal; ma < 1 || ma >= minR {
			t.Errorf("PDB minAvailable %d: want 1..%d at %d replicas", ma, minR-1, minR)
		}
	default:
		t.Errorf("PDB: want an integer maxUnavailable or minAvailable, got %+v", pdb)
	}
	// CPU utilization is relative to the CPU request.
	for _, m := range c.hpa.Spec.Metrics {
		if m.Resource != nil && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
			if _, ok := c.container(t).Resources.Requests[m.Resource.Name]; !ok {
				t.Errorf("HPA scales on %s utilization, but the container requests no %s", m.Resource.Name, m.Resource.Name)
			}
		}
	}

	ctr := c.container(t)
	fromConfigMap := slices.ContainsFunc(ctr.EnvFrom, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == c.configMap.Name
	})
	if !fromConfigMap {
		t.Errorf("the container does not take its environment from ConfigMap %q", c.configMap.Name)
	}
	if !slices.Equal(ctr.Args, []string{"serve"}) {
		t.Errorf("container args %q, want [serve]", ctr.Args)
	}
}

// Every ConfigMap key must set a flag of `taxieta serve`: a misspelt key is
// silently ignored by the server.
func TestKubernetesConfigMapKeysAreServeFlags(t *testing.T) {
	c := loadCluster(t)
	flags := flagEnv(t, "serve")
	for key := range c.configMap.Data {
		if !flags[key] {
			t.Errorf("ConfigMap key %s sets no flag of taxieta serve", key)
		}
	}
}

// dockerfileUser returns the uid and gid of the last USER line of the Dockerfile.
func dockerfileUser(t *testing.T) (uid, gid int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	user := ""
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.EqualFold(f[0], "USER") {
			user = f[1]
		}
	}
	u, g, _ := strings.Cut(user, ":")
	if uid, err = strconv.ParseInt(u, 10, 64); err != nil {
		t.Fatalf("Dockerfile USER %q: want a numeric uid:gid", user)
	}
	if gid, err = strconv.ParseInt(g, 10, 64); err != nil {
		t.Fatalf("Dockerfile USER %q: want a numeric uid:gid", user)
	}
	return uid, gid
}
