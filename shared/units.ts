/** Sizes for people, the one formatter of main/ (messages, the CLI). */
export function formatBytes (n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`
}
