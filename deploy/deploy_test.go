// Package deploy_test checks the deployment files in deploy/ offline: the
// alert rules with promtool, the Kubernetes manifests by strict decoding
// into the Kubernetes API types, the Dockerfile, compose file, Caddyfile
// and systemd unit by their structure, and every metric, label, flag and
// SWITCHBOARD_* variable they name against the code, so they cannot drift
// from it.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/switchboard-chat/switchboard/metrics"
)

// ---- shared helpers ----

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tool returns the path of a command, failing with how to install it.
func tool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: %s (scripts/test installs it): %v", name, install, err)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds cmd/switchboard once for the tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "switchboard-deploy-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "switchboard")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/switchboard").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var flagRE = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// serveEnv returns the SWITCHBOARD_* variables `switchboard serve` reads,
// from its --help.
func serveEnv(t *testing.T) map[string]bool {
	t.Helper()
	out, _ := exec.Command(binary(t), "serve", "--help").CombinedOutput() // exits 0 or 2 depending on flag's ErrHelp handling
	vars := map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(string(out), -1) {
		vars["SWITCHBOARD_"+strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))] = true
	}
	if !vars["SWITCHBOARD_ADDR"] || !vars["SWITCHBOARD_METRICS_ADDR"] {
		t.Fatalf("cannot read the flags from `switchboard serve --help`:\n%s", out)
	}
	return vars
}

// checkEnv fails for a SWITCHBOARD_* variable that is no flag of serve.
func checkEnv(t *testing.T, where string, env map[string]string) {
	t.Helper()
	known := serveEnv(t)
	for k := range env {
		if strings.HasPrefix(k, "SWITCHBOARD_") && !known[k] {
			t.Errorf("%s sets %s, which is no flag of `switchboard serve`", where, k)
		}
	}
}

// ---- metrics named by the dashboard and the rules ----

var (
	metricRE  = regexp.MustCompile(`\b((?:switchboard|go|process)_[a-z0-9_]+)\b`)
	selectRE  = regexp.MustCompile(`\b(switchboard_[a-z0-9_]+)\{([^}]*)\}`)
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// promExprs returns the PromQL of the dashboard's panels and of the alert rules.
func promExprs(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(read(t, "grafana/switchboard.json"), &dash); err != nil {
		t.Fatalf("grafana/switchboard.json: %v", err)
	}
	for _, p := range dash.Panels {
		for i, tg := range p.Targets {
			exprs[fmt.Sprintf("dashboard panel %q target %d", p.Title, i)] = tg.Expr
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			exprs["dashboard variable "+v.Name] = v.Definition
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(read(t, "prometheus/alerts.yaml"), &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	return exprs
}

// TestDashboardAndRulesUseRealMetrics: every metric the dashboard and the
// alert rules query exists in the registry (histograms by their _bucket,
// _sum and _count series), and every label they match on is one of its
// labels (or instance and job, which Prometheus adds).
func TestDashboardAndRulesUseRealMetrics(t *testing.T) {
	set := metrics.New(metrics.Config{})
	fams, err := set.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	runtime := map[string]bool{}
	for _, f := range fams {
		runtime[f.GetName()] = true
	}
	exprs := promExprs(t)
	if len(exprs) < 30 {
		t.Fatalf("only %d expressions found in the dashboard and the rules", len(exprs))
	}
	used := map[string]bool{}
	for where, e := range exprs {
		for _, m := range metricRE.FindAllString(e, -1) {
			base := m
			if _, ok := set.Labels(m); !ok {
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b := strings.TrimSuffix(m, suf); b != m {
						if _, ok := set.Labels(b); ok {
							base = b
						}
					}
				}
			}
			_, declared := set.Labels(base)
			if !declared && !runtime[m] {
				t.Errorf("%s uses %s, which the registry does not have", where, m)
			}
			used[base] = true
		}
		for _, sm := range selectRE.FindAllStringSubmatch(e, -1) {
			name := sm[1]
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if _, ok := set.Labels(name); !ok {
					name = strings.TrimSuffix(name, suf)
				}
			}
			labels, ok := set.Labels(name)
			if !ok {
				continue // reported above
			}
			labels = append(labels, "instance", "job")
			if strings.HasSuffix(sm[1], "_bucket") {
				labels = append(labels, "le")
			}
			for _, mm := range matcherRE.FindAllStringSubmatch(sm[2], -1) {
				if !slices.Contains(labels, mm[1]) {
					t.Errorf("%s matches label %q of %s, which has only %v", where, mm[1], sm[1], labels)
				}
			}
		}
	}
	// The dashboard covers the metrics: each one appears somewhere.
	for _, n := range set.Names() {
		if !used[n] {
			t.Errorf("%s is in neither the dashboard nor the rules", n)
		}
	}
}

// TestReadmeListsEveryMetric: the metrics table of deploy/README.md has
// exactly the registry's metrics, with their labels.
func TestReadmeListsEveryMetric(t *testing.T) {
	set := metrics.New(metrics.Config{})
	rowRE := regexp.MustCompile("(?m)^\\| `(switchboard_[a-z0-9_]+)` \\| [a-z]+ \\|\\s*([a-z_, ]*?)\\s*\\|")
	listed := map[string]bool{}
	for _, m := range rowRE.FindAllStringSubmatch(string(read(t, "README.md")), -1) {
		listed[m[1]] = true
		labels, ok := set.Labels(m[1])
		if !ok {
			t.Errorf("README.md lists %s, which the registry does not have", m[1])
			continue
		}
		var have []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				have = append(have, l)
			}
		}
		if !slices.Equal(have, labels) {
			t.Errorf("README.md gives %s the labels %v; it has %v", m[1], have, labels)
		}
	}
	for _, n := range set.Names() {
		if !listed[n] {
			t.Errorf("%s is missing from the metrics table of deploy/README.md", n)
		}
	}
}

// TestAlertRules: promtool accepts the rules, and their unit tests
// (prometheus/alerts_test.yaml) pass.
func TestAlertRules(t *testing.T) {
	promtool := tool(t, "promtool", "apt-get install -y --no-install-recommends prometheus")
	for _, args := range [][]string{
		{"check", "rules", "alerts.yaml"},
		{"test", "rules", "alerts_test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert has a severity and a summary (the notification's title).
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(read(t, "prometheus/alerts.yaml"), &rules); err != nil {
		t.Fatal(err)
	}
	want := []string{"SwitchboardNoOperatorOnline", "SwitchboardMissedChatsHigh", "SwitchboardAckLatencyHigh",
		"SwitchboardMailFailing", "SwitchboardStoreErrors", "SwitchboardRedisErrors"}
	var have []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			have = append(have, r.Alert)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s needs a severity label, a summary and a description", r.Alert)
			}
		}
	}
	for _, w := range want {
		if !slices.Contains(have, w) {
			t.Errorf("alert %s is missing (have %v)", w, have)
		}
	}
}

// TestGrafanaDashboard: the dashboard is importable JSON whose panels all
// query Prometheus through the datasource variable, and whose variables
// exist where they are used.
func TestGrafanaDashboard(t *testing.T) {
	var dash map[string]any
	if err := json.Unmarshal(read(t, "grafana/switchboard.json"), &dash); err != nil {
		t.Fatal(err)
	}
	if dash["uid"] != "switchboard" || dash["title"] == "" {
		t.Fatalf("uid %v, title %v", dash["uid"], dash["title"])
	}
	vars := map[string]bool{}
	for _, v := range dash["templating"].(map[string]any)["list"].([]any) {
		vars[v.(map[string]any)["name"].(string)] = true
	}
	varRE := regexp.MustCompile(`\$\{?([a-z_]+)`)
	ids := map[float64]bool{}
	panels := 0
	for _, p := range dash["panels"].([]any) {
		p := p.(map[string]any)
		id := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel id %v is used twice", id)
		}
		ids[id] = true
		if p["type"] == "row" {
			continue
		}
		panels++
		ds, _ := p["datasource"].(map[string]any)
		if ds["type"] != "prometheus" || ds["uid"] != "${datasource}" {
			t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p["title"], ds)
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", p["title"])
		}
		for _, tg := range targets {
			expr := tg.(map[string]any)["expr"].(string)
			for _, m := range varRE.FindAllStringSubmatch(expr, -1) {
				if !vars[m[1]] {
					t.Errorf("panel %q uses $%s, which is no dashboard variable", p["title"], m[1])
				}
			}
		}
	}
	if panels < 20 {
		t.Fatalf("%d panels", panels)
	}
}

// ---- Kubernetes ----

// manifest is one decoded Kubernetes object.
type manifest struct {
	file string
	kind string
	obj  any
}

// decodeManifests decodes every document of deploy/kubernetes/*.yaml into
// its Kubernetes API type, rejecting unknown fields and kinds.
func decodeManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []manifest
	for _, f := range files {
		for i, doc := range bytes.Split(read(t, f), []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var head struct{ APIVersion, Kind string }
			if err := sigsyaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "autoscaling/v2 HorizontalPodAutoscaler":
				obj = &autoscalingv2.HorizontalPodAutoscaler{}
			case "networking.k8s.io/v1 Ingress":
				obj = &networkingv1.Ingress{}
			default:
				t.Fatalf("%s document %d: %s %s is not a kind this test knows; add it to decodeManifests", f, i, head.APIVersion, head.Kind)
			}
			if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, head.Kind, err)
			}
			out = append(out, manifest{file: f, kind: head.Kind, obj: obj})
		}
	}
	return out
}

func only[T any](t *testing.T, ms []manifest) T {
	t.Helper()
	var found []T
	for _, m := range ms {
		if o, ok := m.obj.(T); ok {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, have %d", zero, len(found))
	}
	return found[0]
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesManifests decodes the manifests strictly (an unknown or
// misspelt field fails) and checks that they fit together and with the
// binary: probes on /readyz and /healthz, ports, selectors, the HPA's
// target, the ConfigMap and Secret the pods read, every variable in them a
// flag of `switchboard serve`, a grace period longer than the drain.
func TestKubernetesManifests(t *testing.T) {
	ms := decodeManifests(t)
	dep := only[*appsv1.Deployment](t, ms)
	svc := only[*corev1.Service](t, ms)
	cm := only[*corev1.ConfigMap](t, ms)
	sec := only[*corev1.Secret](t, ms)
	pdb := only[*policyv1.PodDisruptionBudget](t, ms)
	hpa := only[*autoscalingv2.HorizontalPodAutoscaler](t, ms)
	ing := only[*networkingv1.Ingress](t, ms)

	pod := dep.Spec.Template
	if !matches(dep.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", dep.Spec.Selector.MatchLabels, pod.Labels)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Error("the Deployment runs fewer than two nodes")
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: missing or not HTTP", name)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s probe on %s, want %s", name, p.HTTPGet.Path, path)
		}
		if port := p.HTTPGet.Port.String(); port != "http" || ports["http"] == 0 {
			t.Errorf("%s probe on port %s; want the container's http port", name, port)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")

	// The pods read the ConfigMap and the Secret; what is in them are flags.
	var fromCM, fromSecret bool
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil && e.ConfigMapRef.Name == cm.Name {
			fromCM = true
		}
		if e.SecretRef != nil && e.SecretRef.Name == sec.Name {
			fromSecret = true
		}
	}
	if !fromCM || !fromSecret {
		t.Errorf("the container does not read ConfigMap %q and Secret %q (envFrom %v)", cm.Name, sec.Name, c.EnvFrom)
	}
	checkEnv(t, "ConfigMap", cm.Data)
	checkEnv(t, "Secret", sec.StringData)
	for _, k := range []string{"SWITCHBOARD_POSTGRES_URL", "SWITCHBOARD_REDIS_URL"} {
		if sec.StringData[k] == "" {
			t.Errorf("the Secret has no %s", k)
		}
	}
	// The listen addresses agree with the container's ports.
	for env, port := range map[string]string{"SWITCHBOARD_ADDR": "http", "SWITCHBOARD_METRICS_ADDR": "metrics"} {
		ap, err := netip.ParseAddrPort(cm.Data[env])
		if err != nil || int32(ap.Port()) != ports[port] {
			t.Errorf("%s=%q does not listen on the %s port %d", env, cm.Data[env], port, ports[port])
		}
	}
	if _, err := netip.ParsePrefix(cm.Data["SWITCHBOARD_TRUSTED_PROXIES"]); err != nil {
		t.Errorf("SWITCHBOARD_TRUSTED_PROXIES: %v", err)
	}
	// The grace period covers the preStop pause and the drain.
	drain, err := time.ParseDuration(cm.Data["SWITCHBOARD_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("SWITCHBOARD_SHUTDOWN_TIMEOUT: %v", err)
	}
	pause := time.Duration(0)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain+pause {
		t.Errorf("terminationGracePeriodSeconds %v does not cover the preStop pause %v and the drain %v", g, pause, drain)
	}
	// Non-root, read-only, no privileges.
	if psc := pod.Spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("the container is not read-only, unprivileged and without capabilities")
	}

	// The Service selects the pods, on ports they have.
	if !matches(svc.Spec.Selector, pod.Labels) {
		t.Errorf("the Service's selector %v does not select the pods %v", svc.Spec.Selector, pod.Labels)
	}
	svcPorts := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		svcPorts[p.Name] = true
		if ports[p.TargetPort.String()] == 0 {
			t.Errorf("Service port %s targets %s, which the container does not have", p.Name, p.TargetPort.String())
		}
	}
	// The Ingress sends everything to the Service's http port.
	for _, r := range ing.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			if b := p.Backend.Service; b == nil || b.Name != svc.Name || !svcPorts[b.Port.Name] || b.Port.Name != "http" {
				t.Errorf("Ingress path %s goes to %+v, want Service %s port http", p.Path, p.Backend.Service, svc.Name)
			}
		}
	}
	// The PDB and the HPA are about this Deployment.
	if pdb.Spec.Selector == nil || !matches(pdb.Spec.Selector.MatchLabels, pod.Labels) {
		t.Error("the PodDisruptionBudget does not select the pods")
	}
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Error("the PodDisruptionBudget sets no budget")
	}
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != dep.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("the HPA scales %+v, not the Deployment %s", ref, dep.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %v..%d", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
}

// TestStrictDecodingCatchesMistakes makes sure the manifest check would
// notice a misspelt field (the check is worth something only then).
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	doc := bytes.Replace(read(t, "kubernetes/deployment.yaml"), []byte("readinessProbe:"), []byte("readynessProbe:"), 1)
	if err := sigsyaml.UnmarshalStrict(doc, &appsv1.Deployment{}); err == nil || !strings.Contains(err.Error(), "readynessProbe") {
		t.Fatalf("a misspelt field was accepted: %v", err)
	}
}

// ---- Dockerfile ----

// dockerInstruction is one Dockerfile instruction, continuation lines joined.
type dockerInstruction struct {
	cmd, args string
}

func parseDockerfile(t *testing.T, src []byte) []dockerInstruction {
	t.Helper()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continued instruction: %q", cur.String())
	}
	return out
}

// TestDockerfile checks the image's build without Docker (no engine runs
// here): a Go build stage on the go.mod's Go version producing a static
// binary, and a final stage that copies it, runs as a non-root user and
// starts `switchboard serve`.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, read(t, "Dockerfile"))
	known := map[string]bool{"FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ARG": true, "USER": true,
		"ENV": true, "EXPOSE": true, "VOLUME": true, "STOPSIGNAL": true, "ENTRYPOINT": true, "CMD": true, "LABEL": true}
	var stages [][]dockerInstruction
	for _, in := range ins {
		if !known[in.cmd] {
			t.Errorf("unknown instruction %s %s", in.cmd, in.args)
		}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	// The build stage uses the Go of go.mod and builds without cgo.
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(read(t, "../go.mod"))
	build, final := stages[0], stages[len(stages)-1]
	from := strings.Fields(build[0].args)
	if len(from) != 3 || !strings.EqualFold(from[1], "AS") || !strings.HasPrefix(from[0], "golang:"+string(goVersion[1])) {
		t.Errorf("build stage FROM %q, want golang:%s… AS <name>", build[0].args, goVersion[1])
	}
	stageName := ""
	if len(from) == 3 {
		stageName = from[2]
	}
	var builds bool
	for _, in := range build {
		if in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "go build") && strings.Contains(in.args, "./cmd/switchboard") {
			builds = true
		}
	}
	if !builds {
		t.Error("the build stage does not run CGO_ENABLED=0 go build ./cmd/switchboard")
	}
	var user, entry, copied string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "COPY":
			if strings.Contains(in.args, "--from="+stageName) && strings.Contains(in.args, "switchboard") {
				copied = in.args
			}
		}
	}
	if u, _, _ := strings.Cut(user, ":"); user == "" || u == "0" || u == "root" {
		t.Errorf("the final stage runs as %q, want a non-root user", user)
	}
	if copied == "" {
		t.Errorf("the final stage copies no binary from stage %q", stageName)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) == 0 || !strings.HasSuffix(argv[0], "/switchboard") {
		t.Errorf("ENTRYPOINT %q, want the exec form starting the binary", entry)
	}
	if base := strings.Fields(final[0].args)[0]; !strings.Contains(base, "distroless/static") && !strings.HasPrefix(base, "alpine") && base != "scratch" {
		t.Errorf("final base %s is not a small static one", base)
	}
	// Variables the image sets are flags.
	env := map[string]string{}
	for _, in := range final {
		if in.cmd == "ENV" {
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	checkEnv(t, "Dockerfile", env)
	if env["SWITCHBOARD_ADDR"] != "0.0.0.0:8080" {
		t.Errorf("SWITCHBOARD_ADDR=%q: the image must listen on all interfaces", env["SWITCHBOARD_ADDR"])
	}
}

// ---- compose and Caddy ----

// TestCompose: two Switchboard nodes on PostgreSQL and Redis, Mailpit and
// a load balancer in front of both that health-checks /readyz; every
// variable is a flag; the trusted proxies cover the compose network.
func TestCompose(t *testing.T) {
	var c struct {
		Services map[string]struct {
			Image           string
			Build           map[string]string
			Environment     map[string]string
			DependsOn       map[string]map[string]string `yaml:"depends_on"`
			StopGracePeriod string                       `yaml:"stop_grace_period"`
			Ports           []string
			Volumes         []string
		}
		Networks map[string]struct {
			IPAM struct{ Config []struct{ Subnet string } } `yaml:"ipam"`
		}
	}
	if err := yaml.Unmarshal(read(t, "compose.yaml"), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, s := range []string{"postgres", "redis", "mailpit", "lb"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("no %s service", s)
		}
	}
	subnet, err := netip.ParsePrefix(c.Networks["default"].IPAM.Config[0].Subnet)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for name, s := range c.Services {
		if s.Build["dockerfile"] == "" {
			continue
		}
		nodes = append(nodes, name)
		if s.Build["dockerfile"] != "deploy/Dockerfile" || s.Build["context"] != ".." {
			t.Errorf("%s builds %v", name, s.Build)
		}
		checkEnv(t, "compose service "+name, s.Environment)
		for env, host := range map[string]string{"SWITCHBOARD_POSTGRES_URL": "postgres:5432", "SWITCHBOARD_REDIS_URL": "redis:6379", "SWITCHBOARD_SMTP_URL": "mailpit:1025"} {
			if !strings.Contains(s.Environment[env], "@"+host) && !strings.Contains(s.Environment[env], "//"+host) {
				t.Errorf("%s: %s=%q does not point to %s", name, env, s.Environment[env], host)
			}
		}
		if p, err := netip.ParsePrefix(s.Environment["SWITCHBOARD_TRUSTED_PROXIES"]); err != nil || !p.Contains(subnet.Addr()) || p.Bits() > subnet.Bits() {
			t.Errorf("%s: SWITCHBOARD_TRUSTED_PROXIES=%q does not cover the network %s", name, s.Environment["SWITCHBOARD_TRUSTED_PROXIES"], subnet)
		}
		if s.DependsOn["postgres"]["condition"] != "service_healthy" || s.DependsOn["redis"]["condition"] != "service_healthy" {
			t.Errorf("%s does not wait for healthy postgres and redis: %v", name, s.DependsOn)
		}
		if d, err := time.ParseDuration(s.StopGracePeriod); err != nil || d <= 30*time.Second {
			t.Errorf("%s: stop_grace_period %q must exceed --shutdown-timeout (30s)", name, s.StopGracePeriod)
		}
	}
	slices.Sort(nodes)
	if len(nodes) != 2 {
		t.Fatalf("%d Switchboard nodes (%v), want 2", len(nodes), nodes)
	}
	// The load balancer mounts the Caddyfile, which sends to both nodes.
	lb := c.Services["lb"]
	if !slices.ContainsFunc(lb.Volumes, func(v string) bool { return strings.HasPrefix(v, "./caddy/Caddyfile:") }) {
		t.Errorf("lb does not mount ./caddy/Caddyfile: %v", lb.Volumes)
	}
	caddy := string(read(t, "caddy/Caddyfile"))
	proxy := regexp.MustCompile(`(?m)^\s*reverse_proxy\s+(.+?)\s*\{`).FindStringSubmatch(caddy)
	if proxy == nil {
		t.Fatal("the Caddyfile has no reverse_proxy block")
	}
	for _, n := range nodes {
		if !slices.Contains(strings.Fields(proxy[1]), n+":8080") {
			t.Errorf("the Caddyfile does not send to %s:8080 (upstreams %q)", n, proxy[1])
		}
	}
	if !regexp.MustCompile(`(?m)^\s*health_uri\s+/readyz\s*$`).MatchString(caddy) {
		t.Error("the Caddyfile does not health-check /readyz (a draining node must leave the rotation)")
	}
	if !regexp.MustCompile(`(?m)^\s*respond\s+/metrics\s+404`).MatchString(caddy) {
		t.Error("the Caddyfile exposes /metrics to the internet")
	}
	// The monitoring profile's Prometheus scrapes both nodes and loads the rules.
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(read(t, "prometheus/prometheus.yml"), &prom); err != nil {
		t.Fatal(err)
	}
	targets := prom.ScrapeConfigs[0].StaticConfigs[0].Targets
	for _, n := range nodes {
		if !slices.Contains(targets, n+":8080") {
			t.Errorf("prometheus.yml does not scrape %s:8080", n)
		}
	}
}

// ---- systemd ----

// unitFile parses a systemd unit into section → key → values.
func unitFile(src []byte) map[string]map[string][]string {
	u := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, _ := strings.Cut(line, "=")
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// envFile parses KEY=value lines (comments and blanks skipped).
func envFile(src []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	return env
}

// TestSystemdUnit: the unit is hardened (its own user, a read-only
// system, SQLite in its state directory), systemd-analyze verifies it,
// and its variables and those of the example env file are flags.
func TestSystemdUnit(t *testing.T) {
	src := read(t, "systemd/switchboard.service")
	u := unitFile(src)
	svc := u["Service"]
	want := map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "NoNewPrivileges": "yes",
		"PrivateTmp": "yes", "StateDirectory": "switchboard", "ExecStart": "/usr/local/bin/switchboard serve",
		"EnvironmentFile": "-/etc/switchboard/switchboard.env", "KillSignal": "SIGTERM",
	}
	for k, v := range want {
		if !slices.Contains(svc[k], v) {
			t.Errorf("[Service] %s=%v, want %s", k, svc[k], v)
		}
	}
	env := map[string]string{}
	for _, e := range svc["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	if env["SWITCHBOARD_DATA_DIR"] != "/var/lib/switchboard" {
		t.Errorf("SWITCHBOARD_DATA_DIR=%q, want the state directory /var/lib/switchboard", env["SWITCHBOARD_DATA_DIR"])
	}
	checkEnv(t, "switchboard.service", env)
	example := envFile(read(t, "systemd/switchboard.env"))
	checkEnv(t, "switchboard.env", example)
	if d, err := time.ParseDuration(svc["TimeoutStopSec"][0]); err != nil || d <= 30*time.Second {
		t.Errorf("TimeoutStopSec=%v must exceed --shutdown-timeout (30s)", svc["TimeoutStopSec"])
	}

	// systemd-analyze checks every directive; ExecStart must exist, so it
	// points at the binary built for the test.
	analyze := tool(t, "systemd-analyze", "apt-get install -y systemd")
	unit := filepath.Join(t.TempDir(), "switchboard.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(src, []byte("/usr/local/bin/switchboard"), []byte(binary(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestEnvFileStartsServer runs the binary with the systemd example env
// file (listen addresses moved to free ports, data in a temporary
// directory): it starts, serves /metrics only on --metrics-addr, and stops
// cleanly on SIGTERM.
func TestEnvFileStartsServer(t *testing.T) {
	env := envFile(read(t, "systemd/switchboard.env"))
	env["SWITCHBOARD_ADDR"] = freeAddr(t)
	env["SWITCHBOARD_METRICS_ADDR"] = freeAddr(t)
	env["SWITCHBOARD_DATA_DIR"] = t.TempDir()
	env["SWITCHBOARD_LOG_FORMAT"] = "json"
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get("http://" + env["SWITCHBOARD_ADDR"] + "/readyz"); code == http.StatusOK {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the server exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not get ready:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get("http://" + env["SWITCHBOARD_METRICS_ADDR"] + "/metrics"); code != http.StatusOK || !strings.Contains(body, "switchboard_build_info{") {
		t.Errorf("--metrics-addr /metrics: %d\n%.500s", code, body)
	}
	if code, _ := get("http://" + env["SWITCHBOARD_ADDR"] + "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on --addr with --metrics-addr set: %d, want 404", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("no exit 40 s after SIGTERM:\n%s", stderr.String())
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
