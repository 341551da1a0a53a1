/** The palette, the shortcuts list and the global keys, as one piece the shell renders once. */
import { useState } from 'preact/hooks'
import { useActions } from './actions.js'
import { Palette, ShortcutsHelp, useKeyboard } from './palette.js'

export function KeyboardLayer(p: { themes: Array<[string, string]>; setTheme: (t: string) => void }) {
  const [palette, setPalette] = useState(false)
  const [help, setHelp] = useState(false)
  useKeyboard(
    () => {
      setHelp(false)
      setPalette(true)
    },
    () => {
      setHelp(true)
    },
  )
  const actions = useActions(palette, {
    themes: p.themes,
    setTheme: p.setTheme,
    openHelp: () => {
      setHelp(true)
    },
  })
  return (
    <>
      <Palette
        open={palette}
        onClose={() => {
          setPalette(false)
        }}
        actions={actions}
      />
      <ShortcutsHelp
        open={help}
        onClose={() => {
          setHelp(false)
        }}
      />
    </>
  )
}
