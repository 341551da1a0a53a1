/** Devices: discovered and added devices (the table is device-list.tsx, a device's page device-page.tsx); the install wizard lives in install.tsx. */
import { useState } from 'preact/hooks'
import { useInfo } from '../app-context.js'
import { DeviceTable } from './device-list.js'
import { addedText } from './device-parts.js'
import { go, useApi, useResource, useTick } from '../hooks.js'
import { Button, Empty, ErrorBox, NotAvailable, errorParts, useNotify } from '../ui.js'

export function DevicesScreen() {
  const info = useInfo()
  const api = useApi()
  const notify = useNotify()
  const [addr, setAddr] = useState('')
  const [adding, setAdding] = useState(false)
  const [offline, setOffline] = useState(false)
  useTick(5000)
  const list = useResource(a => (info.capabilities.devices ? a.devices.list() : Promise.resolve(null)), [info.capabilities.devices], ['device', 'install'])
  if (!info.capabilities.devices) {
    return (
      <div class='screen'>
        <header class='screen-head'>
          <div>
            <h1>Devices</h1>
            <p class='subtitle'>Pantavisor devices on this network.</p>
          </div>
        </header>
        <NotAvailable title='Devices are not available yet'>
          <p>Finding Pantavisor devices and installing revisions onto them over the network is not in this build of Fieldsync yet.</p>
          <p>
            Meanwhile, export a revision from the <a href='#/library'>Library</a> and install it on the device with <code>pvcontrol steps install</code>.
          </p>
        </NotAvailable>
      </div>
    )
  }
  const devices = list.data ?? []
  return (
    <div class='screen'>
      <header class='screen-head'>
        <div>
          <h1>Devices</h1>
          <p class='subtitle'>Pantavisor devices found on this network, or added by address.</p>
        </div>
        <form
          class='toolbar'
          onSubmit={e => {
            e.preventDefault()
            setAdding(true)
            // Adding the same address later replaces the error about it.
            const address = addr.trim()
            const key = `devices.add:${address}`
            api.devices
              .add({ address, ...(offline ? { offline: true } : {}) })
              .then(
                d => {
                  setAddr('')
                  notify({ tone: d.reach === 'offline' ? 'warn' : 'ok', title: `Added ${d.name}`, body: `${d.deviceId}: ${addedText(d)}`, key })
                },
                er => {
                  const x = errorParts(er)
                  notify({ tone: 'bad', title: `Cannot reach ${address}`, body: `${x.message}${x.hint !== null ? ` — ${x.hint}` : ''}`, key })
                },
              )
              .finally(() => {
                setAdding(false)
              })
          }}
        >
          <label class='sr-only' for='device-addr'>
            Device address
          </label>
          <input
            id='device-addr'
            class='input mono'
            placeholder='10.0.0.7 or host:port'
            value={addr}
            onInput={e => {
              setAddr((e.target as HTMLInputElement).value)
            }}
          />
          <label class='check small' title='Keep the address even if nothing answers there now'>
            <input
              type='checkbox'
              checked={offline}
              onChange={e => {
                setOffline((e.target as HTMLInputElement).checked)
              }}
            />{' '}
            even if offline
          </label>
          <Button type='submit' busy={adding} disabled={addr.trim() === ''}>
            Add device
          </Button>
          <Button
            kind='primary'
            onClick={() => {
              go('devices', 'install')
            }}
          >
            Install a revision…
          </Button>
        </form>
      </header>
      {list.error !== undefined && <ErrorBox error={list.error} title='Cannot read the device list' onRetry={list.reload} />}
      {list.data != null && devices.length === 0 && (
        <Empty title='No devices found yet'>Devices running pv-avahi appear here as they answer. Where multicast is blocked, add one by its address.</Empty>
      )}
      {devices.length > 0 && <DeviceTable devices={devices} reload={list.reload} />}
    </div>
  )
}
