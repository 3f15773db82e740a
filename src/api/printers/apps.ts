import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Container } from 'kubernetes-types/core/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { ageColumn, col, nameColumn, type TablePrinter } from './table.js';
import { since } from './duration.js';
import { fromLabelSelector } from '../selectors/label-selector.js';

function containerCells(containers: Container[] | undefined): [string, string] {
  const cs = containers ?? [];
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image ?? '').join(',')];
}

function selectorCell(sel: LabelSelector | undefined): string {
  try { return fromLabelSelector(sel).toString(); } catch { return '<invalid>'; }
}

const containersCol = col('Containers', 'Names of each container in the template.', 1);
const imagesCol = col('Images', 'Images referenced by each container in the template.', 1);
const selectorCol = col('Selector', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1);

export const deploymentPrinter: TablePrinter<Deployment> = {
  columns: [
    nameColumn,
    col('Ready', 'Number of the pod with ready state'),
    col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', 0, 'integer'),
    col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', 0, 'integer'),
    ageColumn, containersCol, imagesCol, selectorCol,
  ],
  row(d, now) {
    const [names, images] = containerCells(d.spec?.template?.spec?.containers);
    return [
      d.metadata?.name ?? '', `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`, d.status?.updatedReplicas ?? 0, d.status?.availableReplicas ?? 0,
      since(d.metadata?.creationTimestamp, now), names, images, selectorCell(d.spec?.selector),
    ];
  },
};

export const replicaSetPrinter: TablePrinter<ReplicaSet> = {
  columns: [
    nameColumn,
    col('Desired', 'Number of desired pods.', 0, 'integer'),
    col('Current', 'Number of actual replicas.', 0, 'integer'),
    col('Ready', 'The number of ready replicas for this replica set.', 0, 'integer'),
    ageColumn, containersCol, imagesCol, selectorCol,
  ],
  row(rs, now) {
    const [names, images] = containerCells(rs.spec?.template?.spec?.containers);
    return [
      rs.metadata?.name ?? '', rs.spec?.replicas ?? 0, rs.status?.replicas ?? 0, rs.status?.readyReplicas ?? 0,
      since(rs.metadata?.creationTimestamp, now), names, images, selectorCell(rs.spec?.selector),
    ];
  },
};
