package oci

import (
	"strconv"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Annotations on every spec, with the keys containerd uses, so that tools
// reading a bundle (runc hooks, NRI plugins, debugging) can tell a pod's
// infra process from its containers and find the pod. The request's own
// annotations are not copied: the CRI says they must not influence the
// runtime, and they stay in the journal for status.
const (
	AnnotationContainerType    = "io.kubernetes.cri.container-type"
	ContainerTypeSandbox       = "sandbox"
	ContainerTypeContainer     = "container"
	AnnotationSandboxID        = "io.kubernetes.cri.sandbox-id"
	AnnotationSandboxName      = "io.kubernetes.cri.sandbox-name"
	AnnotationSandboxNamespace = "io.kubernetes.cri.sandbox-namespace"
	AnnotationSandboxUID       = "io.kubernetes.cri.sandbox-uid"
	AnnotationSandboxLogDir    = "io.kubernetes.cri.sandbox-log-directory"
	AnnotationSandboxImageName = "io.kubernetes.cri.podsandbox.image-name"
	AnnotationContainerName    = "io.kubernetes.cri.container-name"
	AnnotationImageName        = "io.kubernetes.cri.image-name"
	// The pod's total resources as the kubelet summed them
	// (LinuxPodSandboxConfig.resources), on the sandbox only.
	AnnotationSandboxCPUPeriod = "io.kubernetes.cri.sandbox-cpu-period"
	AnnotationSandboxCPUQuota  = "io.kubernetes.cri.sandbox-cpu-quota"
	AnnotationSandboxCPUShares = "io.kubernetes.cri.sandbox-cpu-shares"
	AnnotationSandboxMemory    = "io.kubernetes.cri.sandbox-memory"
)

func podAnnotations(sandboxID string, pod *runtimeapi.PodSandboxConfig) map[string]string {
	md := pod.GetMetadata()
	return map[string]string{
		AnnotationSandboxID:        sandboxID,
		AnnotationSandboxName:      md.GetName(),
		AnnotationSandboxNamespace: md.GetNamespace(),
		AnnotationSandboxUID:       md.GetUid(),
	}
}

func sandboxAnnotations(id, image string, pod *runtimeapi.PodSandboxConfig) map[string]string {
	a := podAnnotations(id, pod)
	a[AnnotationContainerType] = ContainerTypeSandbox
	a[AnnotationSandboxLogDir] = pod.GetLogDirectory()
	a[AnnotationSandboxImageName] = image
	if r := pod.GetLinux().GetResources(); r != nil {
		a[AnnotationSandboxCPUPeriod] = strconv.FormatInt(r.GetCpuPeriod(), 10)
		a[AnnotationSandboxCPUQuota] = strconv.FormatInt(r.GetCpuQuota(), 10)
		a[AnnotationSandboxCPUShares] = strconv.FormatInt(r.GetCpuShares(), 10)
		a[AnnotationSandboxMemory] = strconv.FormatInt(r.GetMemoryLimitInBytes(), 10)
	}
	return a
}

func containerAnnotations(sandboxID, name, image string, pod *runtimeapi.PodSandboxConfig) map[string]string {
	a := podAnnotations(sandboxID, pod)
	a[AnnotationContainerType] = ContainerTypeContainer
	a[AnnotationContainerName] = name
	a[AnnotationImageName] = image
	return a
}
