locals {
  name = "${var.name_prefix}-${var.environment}"
  labels = merge(var.labels, {
    "app-kubernetes-io-part-of" = "mlops"
    "mlops-environment"         = var.environment
  })
  # The plane's Kubernetes ServiceAccount (infra/k8s/base/controlplane/serviceaccount.yaml).
  controlplane_ksa = "${var.environment}/controlplane"
  secrets          = ["controlplane-database-url", "controlplane-trusted-ci-keys", "controlplane-slack-signing-secret"]
}

# --- network: a private subnet with secondary ranges for pods and services, NAT for egress ---
resource "google_compute_network" "main" {
  name                    = local.name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "nodes" {
  name                     = "${local.name}-nodes"
  network                  = google_compute_network.main.id
  region                   = var.region
  ip_cidr_range            = cidrsubnet(var.network_cidr, 4, 0)
  private_ip_google_access = true
  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = cidrsubnet(var.network_cidr, 2, 1)
  }
  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = cidrsubnet(var.network_cidr, 4, 1)
  }
}

resource "google_compute_router" "main" {
  name    = local.name
  network = google_compute_network.main.id
  region  = var.region
}

resource "google_compute_router_nat" "main" {
  name                               = local.name
  router                             = google_compute_router.main.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
}
