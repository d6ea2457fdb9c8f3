# The same outputs on GKE and EKS (tests/infra checks the parity); docs/kubernetes.md uses them.

output "cluster_name" {
  description = "The cluster's name (CONTROLPLANE_KUBE_CONTEXT / the kubeconfig's cluster)"
  value       = aws_eks_cluster.main.name
}

output "cluster_endpoint" {
  description = "HTTPS address of the cluster's API server"
  value       = aws_eks_cluster.main.endpoint
}

output "cluster_ca_certificate" {
  description = "Base64 PEM of the CA that signs the API server's certificate"
  value       = aws_eks_cluster.main.certificate_authority[0].data
  sensitive   = true
}

output "registry_url" {
  description = "Where CI pushes images: <registry_url>/<image>@sha256:..."
  value       = "${var.cloud_account}.dkr.ecr.${var.region}.amazonaws.com/${local.name}"
}

output "controlplane_identity" {
  description = "The cloud identity of the plane's ServiceAccount (annotation eks.amazonaws.com/role-arn)"
  value       = aws_iam_role.controlplane.arn
}

output "ci_identity" {
  description = "What GitHub Actions authenticates as to push images (role assumed by OIDC)"
  value       = aws_iam_role.ci.arn
}

output "ci_oidc_provider" {
  description = "The OIDC federation GitHub Actions uses (no static keys)"
  value       = aws_iam_openid_connect_provider.github.arn
}

output "secret_names" {
  description = "The plane's secrets in the cloud's secret manager, by purpose"
  value       = { for k, s in aws_secretsmanager_secret.controlplane : k => s.name }
}

output "network_name" {
  description = "The network the cluster runs in"
  value       = aws_vpc.main.id
}

output "node_pools" {
  description = "Node pool name -> its mlops.io/pool label (the manifests' nodeSelector)"
  value = {
    (aws_eks_node_group.system.node_group_name)   = aws_eks_node_group.system.labels["mlops.io/pool"]
    (aws_eks_node_group.workload.node_group_name) = aws_eks_node_group.workload.labels["mlops.io/pool"]
  }
}
