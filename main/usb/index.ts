/**
 * USB sticks: revisions carried to devices (pvr export tarballs that
 * `pvcontrol steps install` takes, an install.sh for busybox) and between
 * laptops (inventories, import with verification). See layout.ts for what a
 * stick holds.
 */
export { UsbExporter, removeLeftovers, type UsbExportOptions, type UsbExportResult, type UsbPlan, type PlannedRevision, type UsbProgress } from './export.js'
export { UsbImporter, type UsbImportOptions, type UsbImportResult, type UsbImportedRevision } from './import.js'
export { verifyStick, type VerifyReport, type FileVerdict } from './verify.js'
export { readInventory, parseInventory, writeLibraryInventory, type Inventory } from './inventory.js'
export { readManifest, validateManifest, manifestFiles, type Manifest, type StickRevision, type StickFile, type StickMode } from './manifest.js'
export { installSh } from './install-sh.js'
export { tarHeader, tarSize, tgzSize, StoredGzipEncoder, TgzWriter } from './tgz.js'
export { hashFile, dropCache, PartedFileWriter, writeSmallFile } from './sink.js'
export { freeSpace, checkWritable } from './space.js'
export * from './layout.js'
export { syncStick, type StickSync } from './settle.js'
export { ejectStick, type EjectOptions } from './eject.js'
export { mountOf, notAStick, parseMountinfo, type MountInfo } from './mounts.js'
