# The same variables, with the same meaning, on GKE and EKS (tests/infra checks the parity).

variable "environment" {
  description = "dev, staging or production: names the cluster, its state and the namespace of the plane and the services"
  type        = string
  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "cloud_account" {
  description = "The GCP project id or the AWS account id to build in (applying with credentials for another one fails)"
  type        = string
}

variable "region" {
  description = "The cloud region (GCP: europe-west1, AWS: eu-west-1, ...)"
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name"
  type        = string
  default     = "mlops"
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and node pools"
  type        = string
  default     = "1.32"
}

variable "network_cidr" {
  description = "Address range of the cluster's network (GKE subnet, EKS VPC)"
  type        = string
  default     = "10.40.0.0/16"
}

variable "system_machine_type" {
  description = "Machine type of the system pool (kube-system, monitoring, the control plane)"
  type        = string
}

variable "workload_machine_type" {
  description = "Machine type of the workload pool (the ML services)"
  type        = string
}

variable "system_node_count" {
  description = "Nodes in the system pool (fixed size)"
  type        = number
  default     = 2
}

variable "workload_min_nodes" {
  description = "Lower bound of the workload pool's autoscaler"
  type        = number
  default     = 1
}

variable "workload_max_nodes" {
  description = "Upper bound of the workload pool's autoscaler (room for every HPA at its maximum)"
  type        = number
  default     = 6
}

variable "images" {
  description = "Image repositories to create: the control plane and the three ML services"
  type        = list(string)
  default     = ["controlplane", "bankchurn", "nlpinsight", "chicagotaxi"]
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may push images (OIDC, no static keys)"
  type        = string
}

variable "labels" {
  description = "Extra labels (GCP) or tags (AWS) on every resource"
  type        = map(string)
  default     = {}
}
