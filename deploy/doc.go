// Package deploy holds the deployment files' tests: compose.yaml at the
// repository root and the Kubernetes manifests in deploy/kubernetes. The tests
// load each file with the library its engine uses (compose-go, the k8s.io/api
// types, strictly) and check that the files agree with the server: routes,
// port, flags and environment variables, grace period, image user; and that
// every service that predicts (found by its command) follows the same model
// from the same registry.
//
// The container image itself is built and run by scripts/image-test.sh.
package deploy
