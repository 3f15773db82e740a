import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { ageColumn, col, nameColumn, type TablePrinter } from './table.js';
import { since } from './duration.js';

/** `kubectl get pdb`, as upstream's printPodDisruptionBudget: an unset bound prints N/A. */
export const podDisruptionBudgetPrinter: TablePrinter<PodDisruptionBudget> = {
  columns: [
    nameColumn,
    col('Min Available', 'The minimum number of pods that must be available.'),
    col('Max Unavailable', 'The maximum number of pods that may be unavailable.'),
    col('Allowed Disruptions', 'Calculated number of pods that may be disrupted at this time.', 0, 'integer'),
    ageColumn,
  ],
  row(pdb, now) {
    const bound = (v: number | string | undefined): string => (v === undefined || v === null ? 'N/A' : String(v));
    return [
      pdb.metadata?.name ?? '', bound(pdb.spec?.minAvailable), bound(pdb.spec?.maxUnavailable),
      pdb.status?.disruptionsAllowed ?? 0, since(pdb.metadata?.creationTimestamp, now),
    ];
  },
};
