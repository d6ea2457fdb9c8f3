# The same outputs on GKE and EKS (tests/infra checks the parity); docs/kubernetes.md uses them.

output "cluster_name" {
  description = "The cluster's name (CONTROLPLANE_KUBE_CONTEXT / the kubeconfig's cluster)"
  value       = google_container_cluster.main.name
}

output "cluster_endpoint" {
  description = "HTTPS address of the cluster's API server"
  value       = "https://${google_container_cluster.main.endpoint}"
}

output "cluster_ca_certificate" {
  description = "Base64 PEM of the CA that signs the API server's certificate"
  value       = google_container_cluster.main.master_auth[0].cluster_ca_certificate
  sensitive   = true
}

output "registry_url" {
  description = "Where CI pushes images: <registry_url>/<image>@sha256:..."
  value       = "${var.region}-docker.pkg.dev/${var.cloud_account}/${google_artifact_registry_repository.images.repository_id}"
}

output "controlplane_identity" {
  description = "The cloud identity of the plane's ServiceAccount (annotation iam.gke.io/gcp-service-account)"
  value       = google_service_account.controlplane.email
}

output "ci_identity" {
  description = "What GitHub Actions authenticates as to push images (service account behind the WIF provider)"
  value       = google_service_account.ci.email
}

output "ci_oidc_provider" {
  description = "The OIDC federation GitHub Actions uses (no static keys)"
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "secret_names" {
  description = "The plane's secrets in the cloud's secret manager, by purpose"
  value       = { for k, s in google_secret_manager_secret.controlplane : k => s.secret_id }
}

output "network_name" {
  description = "The network the cluster runs in"
  value       = google_compute_network.main.name
}

output "node_pools" {
  description = "Node pool name -> its mlops.io/pool label (the manifests' nodeSelector)"
  value = {
    (google_container_node_pool.system.name)   = google_container_node_pool.system.node_config[0].labels["mlops.io/pool"]
    (google_container_node_pool.workload.name) = google_container_node_pool.workload.node_config[0].labels["mlops.io/pool"]
  }
}
