/** README.txt for the technician who carries the stick. */
import type { Manifest } from './manifest.js'
import { formatSize } from './space.js'

export function readmeText(m: Manifest): string {
  const revs = m.revisions
    .map(r => {
      const what =
        r.mode === 'full'
          ? 'all objects'
          : r.mode === 'device'
            ? `only the ${r.included} object(s) the device lacked`
            : `only the ${r.included} object(s) the other laptop lacked`
      const files = r.parts.length === 1 ? r.tarball : `${r.tarball} in ${r.parts.length} parts (${r.parts[0].path} ...)`
      return `  ${r.name.padEnd(24)} ${formatSize(r.bytes).padStart(10)}  ${files}, ${what}`
    })
    .join('\n')
  return `Fieldsync stick
===============

Made ${m.createdAt} by ${m.tool}. It carries these Pantavisor revisions:

${revs || '  (none)'}

Install on a device
-------------------
1. Plug the stick into the device (or copy this folder onto it) and open a shell
   in a container with the mgmt role (e.g. pvr-sdk), or the device's own shell.
2. Go to this folder and list what is here:        sh install.sh
3. Install and run one revision:                   sh install.sh NAME
   It first checks every file's sha256, then installs with pvcontrol
   (steps install, objects, step), checks that every object is on the device,
   runs locals/NAME and shows the progress until DONE, UPDATED, ERROR or WONTGO.
   If the device reboots while it watches, look again after the reboot with:
                                                   sh install.sh --status NAME
   Install without running:                        sh install.sh --no-run NAME
   If pvcontrol is not in PATH: PVCONTROL=/path/to/pvcontrol sh install.sh NAME
4. Only check the stick:                           sh install.sh --check

Send only what a device lacks
-----------------------------
On the device:   sh install.sh --inventory        (writes device-inventory.json here)
On the laptop:   fieldsync usb export --for-device <stick>/device-inventory.json REVISION <stick>
The tarballs then hold only the objects that device lacks; install.sh refuses to
run a revision whose objects are not all on the device.

Between two laptops
-------------------
Laptop that needs revisions:  fieldsync usb inventory <stick>
Laptop that has them:         fieldsync usb export --for-peer <stick>/fieldsync-inventory.json REVISION... <stick>
Back on the first laptop:     fieldsync usb import <stick>    (every object is verified on the way in)

Files over 4 GiB
----------------
FAT32 cannot hold a file of 4 GiB or more, so a larger tarball is split into
NAME.pvrexport.tgz.part000, .part001, ... install.sh joins the parts itself
(cat | tar) and unpacks them into WORKDIR (default /tmp): on a device with
little RAM, point it at its storage:  WORKDIR=/storage/tmp sh install.sh NAME
Elsewhere, join them by hand:  cat NAME.pvrexport.tgz.part* > NAME.pvrexport.tgz

Checking the stick on a laptop
------------------------------
fieldsync usb verify <stick>     (or: cd <stick> && sha256sum -c SHA256SUMS)
Files named .fieldsync-*.tmp are left-overs of an interrupted export: they are
never complete files; the next export removes them.
`
}
