//! What both kubectl plugins know about a RayCluster on Kubernetes.
