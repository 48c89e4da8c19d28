"""A one-node Kubernetes under ``.run/k8s/``, built from source and run as plain processes.

``make k8s-up`` builds (once) the Kubernetes binaries from the Go module proxy
(``cluster/build``), starts etcd, the control plane, containerd, kubelet, kube-proxy and
CoreDNS on this machine, loads the images ``make images`` built, installs spark-operator
and the umbrella chart with ``values-local-cluster.yaml``. ``make k8s-down`` stops all of
it. The settings that make this work on this kind of machine are listed in
``docs/deploy.md``, section "Facts about this kind of machine"; each is named where it is used.
"""
