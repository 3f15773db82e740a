#!/usr/bin/env node
import { runServer } from './server.js';
import { runSimulate } from './simulate.js';
import { runExplainPending, runWhatIf } from './explain.js';
import { serverVersion } from '../apiserver/server.js';
import { runImages } from './images.js';
import { runKillAll } from './killall.js';
import { runAgent } from './agent.js';
import { runToken } from './token.js';
import { runEtcdSnapshot } from './etcd-snapshot.js';
import { runLoadBalancer } from './lb.js';
import { runEtcdMember } from './etcd-member.js';

const usage = `skiff — a small Kubernetes-compatible orchestrator

Usage:
  skiff server [flags]          run the API server, controllers and scheduler
  skiff agent --server URL[,URL…] --token T   join a cluster as a node
  skiff lb [--kubeconfig F]     a local load balancer for kubectl in front of several servers
  skiff token create|list|delete       node join tokens
  skiff etcd-snapshot save|status|restore   back up and restore the etcd datastore
  skiff etcd-member list|remove NAME        the etcd cluster's members (remove a server's that is gone)
  skiff simulate [flags]        SIMULATION: register nodes that run no containers (for tests and scale)
  skiff explain-pending POD     why a pod is pending, node by node
  skiff what-if -f FILE         where a manifest's pods would land, without creating anything
  skiff images ls|import|rm|pull   the node's images
  skiff killall [--data-dir D]  stop every container of this machine's agent and remove its networks and mounts
  skiff version                 print the version

Run 'skiff server --help' for its flags.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'server': return runServer(rest);
    case 'agent': return runAgent(rest);
    case 'token': return runToken(rest);
    case 'lb': return runLoadBalancer(rest);
    case 'etcd-snapshot': return runEtcdSnapshot(rest);
    case 'etcd-member': return runEtcdMember(rest);
    case 'simulate': return runSimulate(rest);
    case 'explain-pending': return runExplainPending(rest);
    case 'what-if': return runWhatIf(rest);
    case 'images': return runImages(rest);
    case 'killall': return runKillAll(rest);
    case 'version':
      process.stdout.write(`skiff ${serverVersion.gitVersion} (Kubernetes API ${serverVersion.major}.${serverVersion.minor})\n`);
      return 0;
    case undefined: case '-h': case '--help': case 'help':
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(`skiff: unknown command "${cmd}"\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { if (code !== 0) process.exitCode = code; }, (e: Error) => {
  process.stderr.write(`skiff: ${e.message}\n`);
  process.exitCode = 1;
});
