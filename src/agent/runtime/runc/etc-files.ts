/** The pod's /etc/hosts, as kubelet writes it: localhost entries, then the pod's own IP and host name. */
export function etcHosts(ip: string, hostname: string): string {
  return [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    ...(ip ? [`${ip}\t${hostname}`] : []),
    '',
  ].join('\n');
}
