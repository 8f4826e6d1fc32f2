package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/taxieta/taxieta/internal/httpapi"
	"github.com/taxieta/taxieta/internal/registry"
)

// kinds maps apiVersion/kind to the k8s.io/api type a manifest decodes into.
// A manifest of any other kind is an error, so every file is checked.
var kinds = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"v1/PersistentVolumeClaim":               func() any { return &corev1.PersistentVolumeClaim{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
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

// apiName names the API's objects: its ConfigMap, Service, Deployment,
// HorizontalPodAutoscaler and PodDisruptionBudget.
const apiName = "taxieta"

// cluster is every object in deploy/kubernetes, by kind and name, and the
// API's objects of each kind.
type cluster struct {
	configMaps  map[string]*corev1.ConfigMap
	services    map[string]*corev1.Service
	deployments map[string]*appsv1.Deployment
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget

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
	c := cluster{
		configMaps:  map[string]*corev1.ConfigMap{},
		services:    map[string]*corev1.Service{},
		deployments: map[string]*appsv1.Deployment{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
	}
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
			meta := obj.(metav1.Object)
			if meta.GetName() == "" || meta.GetNamespace() != "" {
				t.Fatalf("%s: %s %q in namespace %q: want a name and no namespace (kubectl apply -n chooses it)", file, typeName(obj), meta.GetName(), meta.GetNamespace())
			}
			id := typeName(obj) + " " + meta.GetName()
			if prev, dup := seen[id]; dup {
				t.Fatalf("%s: a second %s (the first is in %s)", file, id, prev)
			}
			seen[id] = file
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				c.configMaps[o.Name] = o
			case *corev1.Service:
				c.services[o.Name] = o
			case *appsv1.Deployment:
				c.deployments[o.Name] = o
			case *autoscalingv2.HorizontalPodAutoscaler:
				c.hpas[o.Name] = o
			case *policyv1.PodDisruptionBudget:
				c.pdbs[o.Name] = o
			}
		}
	}
	c.configMap, c.service, c.deployment = c.configMaps[apiName], c.services[apiName], c.deployments[apiName]
	c.hpa, c.pdb = c.hpas[apiName], c.pdbs[apiName]
	if c.configMap == nil || c.service == nil || c.deployment == nil || c.hpa == nil || c.pdb == nil {
		t.Fatalf("want a ConfigMap, Service, Deployment, HorizontalPodAutoscaler and PodDisruptionBudget named %s; found %v", apiName, seen)
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

// envVar is a container's environment variable as the kubelet sets it.
type envVar struct {
	value string
	// configMap and key name where the value comes from, when a ConfigMap.
	configMap, key string
	// unresolved is set for values the kubelet computes (resourceFieldRef,
	// fieldRef) or takes from a Secret.
	unresolved bool
}

// workload is a taxieta container of a Deployment.
type workload struct {
	deployment *appsv1.Deployment
	ctr        corev1.Container
	args       []string          // the taxieta command line, subcommand first
	env        map[string]envVar // resolved as the kubelet does
}

// name is the workload's Deployment's name.
func (w workload) name() string { return w.deployment.Name }

// getenv is the container's environment as its process sees it.
func (w workload) getenv(img image) func(string) string {
	own := map[string]string{}
	for k, v := range w.env {
		own[k] = v.value
	}
	return getenv(own, img.env)
}

// isTaxietaImage tells whether a container image reference is the taxieta
// image, from any registry, at any tag.
func isTaxietaImage(ref string) bool {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	name, _, _ := strings.Cut(ref, ":")
	return name == "taxieta"
}

// workloads returns every taxieta container of every Deployment, by
// Deployment name, found by image (not from a list), so that a new one is
// checked too.
func (c cluster) workloads(t *testing.T) []workload {
	t.Helper()
	img := dockerImage(t)
	var out []workload
	for _, name := range slices.Sorted(maps.Keys(c.deployments)) {
		d := c.deployments[name]
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if !isTaxietaImage(ctr.Image) {
				continue
			}
			out = append(out, workload{
				deployment: d,
				ctr:        ctr,
				args:       img.command(t, ctr.Command, ctr.Args),
				env:        c.environment(t, ctr),
			})
		}
	}
	if len(out) == 0 {
		t.Fatal("no Deployment runs the taxieta image")
	}
	return out
}

// environment resolves a container's variables as the kubelet does:
// envFrom sources in order, then env, each over the one before.
func (c cluster) environment(t *testing.T, ctr corev1.Container) map[string]envVar {
	t.Helper()
	env := map[string]envVar{}
	for _, from := range ctr.EnvFrom {
		if from.ConfigMapRef == nil {
			// A Secret's keys are not in the repository, so they could not
			// be checked against the flags; name each with secretKeyRef.
			t.Fatalf("container %s: envFrom %+v: only ConfigMaps can be checked", ctr.Name, from)
		}
		cm, ok := c.configMaps[from.ConfigMapRef.Name]
		if !ok {
			if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				continue
			}
			t.Fatalf("container %s: envFrom ConfigMap %q is not in deploy/kubernetes (the pod would not start)", ctr.Name, from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[from.Prefix+k] = envVar{value: v, configMap: cm.Name, key: k}
		}
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = envVar{value: e.Value}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			optional := ref.Optional != nil && *ref.Optional
			cm, ok := c.configMaps[ref.Name]
			if !ok && !optional {
				t.Fatalf("container %s: %s from ConfigMap %q, which is not in deploy/kubernetes", ctr.Name, e.Name, ref.Name)
			}
			v, has := "", false
			if ok {
				v, has = cm.Data[ref.Key]
			}
			if !has && !optional {
				t.Fatalf("container %s: %s from ConfigMap %s key %s, which it lacks (the pod would not start)", ctr.Name, e.Name, ref.Name, ref.Key)
			}
			if has {
				env[e.Name] = envVar{value: v, configMap: ref.Name, key: ref.Key}
			}
		default:
			env[e.Name] = envVar{unresolved: true}
		}
	}
	return env
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
		{name: "misspelt probe field", doc: strings.Replace(string(deployment), "path: /healthz", "pth: /healthz", 1), wantErr: `unknown field "pth"`},
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
	grpcListen := int32(addrPort(t, c.configMap.Data["TAXIETA_GRPC_ADDR"]))
	if len(ctr.Ports) != 2 || ctr.Ports[0].ContainerPort != listen || ctr.Ports[1].ContainerPort != grpcListen {
		t.Errorf("container ports %+v, want TAXIETA_ADDR's port %d and TAXIETA_GRPC_ADDR's %d", ctr.Ports, listen, grpcListen)
	}
	// Readiness asks the gRPC health service, which turns NOT_SERVING on
	// SIGTERM as /readyz does.
	if rp := ctr.ReadinessProbe; rp == nil || rp.GRPC == nil {
		t.Error("no gRPC readiness probe")
	} else if rp.GRPC.Port != grpcListen || rp.GRPC.Service == nil || *rp.GRPC.Service != "inference.GRPCInferenceService" {
		t.Errorf("readiness probes gRPC port %d service %v, want the server's %d and inference.GRPCInferenceService", rp.GRPC.Port, rp.GRPC.Service, grpcListen)
	}
	tests := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", ctr.StartupProbe, httpapi.PathHealthz},
		{"liveness", ctr.LivenessProbe, httpapi.PathHealthz},
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
	if len(c.service.Spec.Ports) != 2 || portNumber(t, ctr, c.service.Spec.Ports[1].TargetPort) != grpcListen {
		t.Errorf("Service ports %+v, want the gRPC port %d second", c.service.Spec.Ports, grpcListen)
	}
}

// The stream consumer's probes fetch its metrics endpoint, with the
// binary's own healthcheck (the image has no curl).
func TestKubernetesStreamProbes(t *testing.T) {
	c := loadCluster(t)
	img := dockerImage(t)
	probeTimeout, err := time.ParseDuration(flagDefaults(t, "healthcheck")["TAXIETA_TIMEOUT"])
	if err != nil {
		t.Fatalf("healthcheck --timeout default: %v", err)
	}
	n := 0
	for _, w := range c.workloads(t) {
		if w.args[0] != "stream" {
			continue
		}
		n++
		t.Run(w.name(), func(t *testing.T) {
			addr := setting(w.args, w.getenv(img), "metrics-addr", "")
			if addr == "" {
				t.Fatal("no --metrics-addr: the consumer serves no metrics, and the probes have nothing to fetch")
			}
			port := int32(addrPort(t, addr))
			if len(w.ctr.Ports) != 1 || w.ctr.Ports[0].ContainerPort != port {
				t.Errorf("container ports %+v, want one at the metrics port %d", w.ctr.Ports, port)
			}
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
			}{
				{"startup", w.ctr.StartupProbe},
				{"liveness", w.ctr.LivenessProbe},
				{"readiness", w.ctr.ReadinessProbe},
			} {
				if p.probe == nil || p.probe.Exec == nil {
					t.Errorf("%s: no exec probe", p.name)
					continue
				}
				argv := p.probe.Exec.Command
				if len(argv) < 2 || !slices.Equal(argv[:1], img.entrypoint) || argv[1] != "healthcheck" {
					t.Errorf("%s: runs %q, want /taxieta healthcheck", p.name, argv)
					continue
				}
				for _, a := range argv[2:] {
					if f, ok := strings.CutPrefix(a, "--"); ok {
						f, _, _ = strings.Cut(f, "=")
						if !flagEnv(t, "healthcheck")[envName(f)] {
							t.Errorf("%s: --%s is no flag of taxieta healthcheck", p.name, f)
						}
					}
				}
				raw, _ := flagValue(argv, "url")
				u, err := url.Parse(raw)
				if err != nil || u.Hostname() != "127.0.0.1" || u.Port() != strconv.Itoa(int(port)) || u.Path != "/metrics" {
					t.Errorf("%s: probes %q, want http://127.0.0.1:%d/metrics", p.name, raw, port)
				}
				if got := time.Duration(p.probe.TimeoutSeconds) * time.Second; got <= probeTimeout {
					t.Errorf("%s: timeoutSeconds %s, want more than healthcheck's own --timeout %s", p.name, got, probeTimeout)
				}
			}
			ann := w.deployment.Spec.Template.Annotations
			if ann["prometheus.io/path"] != "/metrics" || ann["prometheus.io/port"] != strconv.Itoa(int(port)) {
				t.Errorf("prometheus annotations %v, want path /metrics on port %d", ann, port)
			}
		})
	}
	if n == 0 {
		t.Fatal("no Deployment runs taxieta stream")
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

	// A stream consumer's drain finishes what it fetched.
	img := dockerImage(t)
	for _, w := range c.workloads(t) {
		if w.args[0] != "stream" {
			continue
		}
		drain := streamDrain(t, w.args, w.getenv(img))
		tgp := w.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
		if tgp == nil {
			t.Errorf("%s: terminationGracePeriodSeconds is not set", w.name())
			continue
		}
		got := time.Duration(*tgp) * time.Second
		if got < drain+margin || got > drain+30*time.Second {
			t.Errorf("%s: terminationGracePeriodSeconds %s, want %s..%s: the longest drain (--fetch-wait + 2 × --publish-timeout) %s plus a margin", w.name(), got, drain+margin, drain+30*time.Second, drain)
		}
	}
}

func TestKubernetesSecurity(t *testing.T) {
	c := loadCluster(t)
	uid, gid := dockerfileUser(t)
	img := dockerImage(t)
	for _, w := range c.workloads(t) {
		t.Run(w.name(), func(t *testing.T) {
			pod := w.deployment.Spec.Template.Spec
			psc, csc := pod.SecurityContext, w.ctr.SecurityContext
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
			// With a read-only root, what the program writes needs a volume:
			// /tmp, and the cache of registry models.
			mounts := map[string]string{}
			for _, m := range w.ctr.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
			emptyDirs := map[string]bool{}
			for _, v := range pod.Volumes {
				if v.EmptyDir != nil {
					emptyDirs[v.Name] = true
				}
			}
			cache := setting(w.args, w.getenv(img), "cache-dir", "")
			for _, dir := range []string{"/tmp", cache} {
				if name, ok := mounts[dir]; !ok || !emptyDirs[name] {
					t.Errorf("no emptyDir mounted at %q", dir)
				}
			}
		})
	}
}

func TestKubernetesResources(t *testing.T) {
	c := loadCluster(t)
	for _, w := range c.workloads(t) {
		res := w.ctr.Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := res.Requests[name]
			lim, hasLim := res.Limits[name]
			switch {
			case !hasReq || !hasLim:
				t.Errorf("%s %s: want a request and a limit, got request %v limit %v", w.name(), name, res.Requests, res.Limits)
			case req.Cmp(lim) > 0:
				t.Errorf("%s %s: request %s over limit %s", w.name(), name, req.String(), lim.String())
			}
		}
	}
}

// selected returns the Deployments whose pods sel selects.
func (c cluster) selected(t *testing.T, what string, sel *metav1.LabelSelector) []string {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("%s selector: %v", what, err)
	}
	if s.Empty() {
		t.Errorf("%s selector is empty: it selects every pod", what)
	}
	var names []string
	for _, name := range slices.Sorted(maps.Keys(c.deployments)) {
		if s.Matches(labels.Set(c.deployments[name].Spec.Template.Labels)) {
			names = append(names, name)
		}
	}
	return names
}

func TestKubernetesWiring(t *testing.T) {
	c := loadCluster(t)
	d := c.deployment
	// Each Deployment, and each PodDisruptionBudget, selects the pods of
	// exactly one Deployment: overlapping selectors make controllers fight
	// over pods, and a budget over two Deployments counts the wrong pods.
	for _, name := range slices.Sorted(maps.Keys(c.deployments)) {
		if got := c.selected(t, "Deployment "+name, c.deployments[name].Spec.Selector); !slices.Equal(got, []string{name}) {
			t.Errorf("Deployment %s selects the pods of %v, want only its own", name, got)
		}
	}
	pdbOf := map[string]*policyv1.PodDisruptionBudget{}
	for _, name := range slices.Sorted(maps.Keys(c.pdbs)) {
		got := c.selected(t, "PodDisruptionBudget "+name, c.pdbs[name].Spec.Selector)
		if len(got) != 1 {
			t.Errorf("PodDisruptionBudget %s selects the pods of %v, want one Deployment's", name, got)
			continue
		}
		pdbOf[got[0]] = c.pdbs[name]
	}
	if pdbOf[d.Name] != c.pdb {
		t.Errorf("PodDisruptionBudget %s does not cover Deployment %s", c.pdb.Name, d.Name)
	}
	// The Service sends traffic to the API's pods only: other taxieta pods
	// do not listen on its port.
	for _, name := range slices.Sorted(maps.Keys(c.services)) {
		svc := c.services[name]
		got := c.selected(t, "Service "+name, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
		if want := []string{d.Name}; name == c.service.Name && !slices.Equal(got, want) {
			t.Errorf("Service %s selects the pods of %v, want %v", name, got, want)
		}
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
	// Every taxieta Deployment has a budget that leaves a ready pod at its
	// fewest replicas (the HPA's minimum, else its replicas) and still
	// allows a drain.
	for _, w := range c.workloads(t) {
		pdb, ok := pdbOf[w.name()]
		if !ok {
			t.Errorf("Deployment %s: no PodDisruptionBudget", w.name())
			continue
		}
		fewest := int32(1)
		if w.deployment.Spec.Replicas != nil {
			fewest = *w.deployment.Spec.Replicas
		}
		for _, h := range c.hpas {
			if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == w.name() {
				fewest = 1
				if h.Spec.MinReplicas != nil {
					fewest = *h.Spec.MinReplicas
				}
			}
		}
		switch spec := pdb.Spec; {
		case spec.MaxUnavailable != nil && spec.MaxUnavailable.Type == intstr.Int:
			if mu := spec.MaxUnavailable.IntVal; mu < 1 || mu >= fewest {
				t.Errorf("PDB %s maxUnavailable %d: want 1..%d at %d replicas", pdb.Name, mu, fewest-1, fewest)
			}
		case spec.MinAvailable != nil && spec.MinAvailable.Type == intstr.Int:
			if ma := spec.MinAvailable.IntVal; ma < 1 || ma >= fewest {
				t.Errorf("PDB %s minAvailable %d: want 1..%d at %d replicas", pdb.Name, ma, fewest-1, fewest)
			}
		default:
			t.Errorf("PDB %s: want an integer maxUnavailable or minAvailable, got %+v", pdb.Name, spec)
		}
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

// Every TAXIETA_* variable a taxieta container gets (from its ConfigMaps and
// its own env) and every --flag it passes must be a flag of the command it
// runs: the program silently ignores a misspelt variable. And every
// ConfigMap key must reach some container, or it configures nothing.
func TestKubernetesConfigurationIsFlags(t *testing.T) {
	c := loadCluster(t)
	read := map[string]bool{} // "ConfigMap/key"
	for _, w := range c.workloads(t) {
		t.Run(w.name(), func(t *testing.T) {
			command := w.args[0]
			flags := flagEnv(t, command)
			for _, key := range slices.Sorted(maps.Keys(w.env)) {
				v := w.env[key]
				if v.configMap != "" {
					read[v.configMap+"/"+v.key] = true
				}
				if strings.HasPrefix(key, "TAXIETA_") && !flags[key] {
					from := "env"
					if v.configMap != "" {
						from = "ConfigMap " + v.configMap
					}
					t.Errorf("%s (from %s) sets no flag of taxieta %s", key, from, command)
				}
			}
			for _, a := range w.args[1:] {
				if f, ok := strings.CutPrefix(a, "--"); ok {
					f, _, _ = strings.Cut(f, "=")
					if !flags[envName(f)] {
						t.Errorf("--%s is no flag of taxieta %s", f, command)
					}
				}
			}
		})
	}
	for _, name := range slices.Sorted(maps.Keys(c.configMaps)) {
		for _, key := range slices.Sorted(maps.Keys(c.configMaps[name].Data)) {
			if !read[name+"/"+key] {
				t.Errorf("ConfigMap %s key %s reaches no taxieta container", name, key)
			}
		}
	}
}

// Every Deployment that predicts (found by its command, so that a new one is
// not missed) must predict with the registry's champion, from the same
// registry, both named once: by the same ConfigMap keys.
func TestKubernetesPredictorsShareTheChampion(t *testing.T) {
	c := loadCluster(t)
	img := dockerImage(t)
	const champion = "models:/taxi-duration@champion"
	commands := map[string]bool{}
	var first *modelChoice
	for _, w := range c.workloads(t) {
		if !slices.Contains(predictingCommands, w.args[0]) {
			continue
		}
		commands[w.args[0]] = true
		t.Run(w.name(), func(t *testing.T) {
			got := chooseModel(w.args, w.getenv(img))
			if got.model != champion {
				t.Errorf("model %q, want %s", got.model, champion)
			}
			if _, err := registry.ParseRef(got.model); err != nil {
				t.Error(err)
			}
			u, err := url.Parse(got.registry)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
				t.Errorf("registry %q (from %s): want an MLflow http(s) URL", got.registry, got.from)
			}
			// One place: the shared ConfigMap, not a value per Deployment.
			for _, flag := range []string{"model", "registry"} {
				key := envName(flag)
				if _, ok := flagValue(w.args, flag); ok {
					t.Errorf("the command line sets --%s, over the shared ConfigMap's %s", flag, key)
				}
				if v := w.env[key]; v.configMap != c.configMap.Name || v.key != key {
					t.Errorf("%s comes from %+v, want ConfigMap %s key %s", key, v, c.configMap.Name, key)
				}
			}
			if first == nil {
				first = &got
			} else if got != *first {
				t.Errorf("predicts with %+v, another Deployment with %+v", got, *first)
			}
		})
	}
	if !commands["serve"] || !commands["stream"] {
		t.Fatalf("predicting commands %v, want serve and stream among them", slices.Sorted(maps.Keys(commands)))
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
