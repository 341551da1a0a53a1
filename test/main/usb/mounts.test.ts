/** Which mount holds a stick's folder, and which mounts eject may touch (never the laptop's own disk). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { notAStick, parseMountinfo } from '../../../main/usb/mounts.js'

const MOUNTINFO = [
  '22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw',
  '30 22 0:26 / /tmp rw,nosuid,nodev shared:5 - tmpfs tmpfs rw',
  '47 22 8:17 / /media/tech/FIELD\\040STICK rw,nosuid,nodev,relatime shared:40 master:2 - vfat /dev/sdb1 rw,fmask=0022',
  '48 30 0:39 / /tmp/fat/mnt rw,nosuid,nodev,relatime - fuse.fusefat fusefat rw,user_id=0,group_id=0',
  'not a mountinfo line',
].join('\n')

describe('usb mounts', () => {
  it('parses /proc/self/mountinfo: optional fields, escaped spaces, FUSE sources', () => {
    assert.deepEqual(parseMountinfo(MOUNTINFO), [
      { point: '/', fsType: 'ext4', source: '/dev/sda2' },
      { point: '/tmp', fsType: 'tmpfs', source: 'tmpfs' },
      { point: '/media/tech/FIELD STICK', fsType: 'vfat', source: '/dev/sdb1' },
      { point: '/tmp/fat/mnt', fsType: 'fuse.fusefat', source: 'fusefat' },
    ])
  })

  it("a stick's file systems may be ejected; the laptop's own mounts and other file systems never", () => {
    const [root, tmp, stick, fuse] = parseMountinfo(MOUNTINFO)
    assert.equal(notAStick(stick, 'linux'), null)
    assert.equal(notAStick(fuse, 'linux'), null)
    assert.match(notAStick(root, 'linux') ?? '', /own disk/)
    assert.match(notAStick(tmp, 'linux') ?? '', /own disk/)
    assert.match(notAStick({ point: '/media/tech/backup', fsType: 'ext4', source: '/dev/sdc1' }, 'linux') ?? '', /ext4 file system, not a stick/)
    assert.match(notAStick({ point: '/home', fsType: 'vfat', source: '/dev/sda3' }, 'linux') ?? '', /own disk/)
    assert.equal(notAStick({ point: '/Volumes/STICK', fsType: '', source: '/dev/disk4s1' }, 'darwin'), null)
    assert.match(notAStick({ point: '/System/Volumes/Data', fsType: '', source: '/dev/disk3s5' }, 'darwin') ?? '', /own disk/)
  })
})
