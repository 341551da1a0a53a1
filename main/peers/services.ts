/**
 * The LAN node and the services on top of it, started one way by every
 * front end: `fieldsync serve` and `pull`, the app's LAN service, and the
 * tests' peers. Nothing else constructs a PeerNode.
 *
 * start() runs, in this order:
 *   1. the control socket (`<home>/node.sock`), when asked for: it claims
 *      the library, refusing when another node already serves it, before
 *      this one opens a port or announces itself on the LAN;
 *   2. the node (libp2p, loaded here; the team's secret; listening, mDNS);
 *   3. the puller;
 *   4. the mirror (`serve --mirror`), when asked for, which pulls at once.
 * stop() runs the reverse. A step that fails stops what started before it,
 * and start() throws its error.
 */
import type { Logger } from '../../shared/log.js'
import type { Library } from '../store/library.js'
import type { PeerNodeOptions } from './config.js'
import { ControlServer } from './control/server.js'
import { Mirror } from './mirror.js'
import { PeerNode } from './node.js'
import { Puller } from './pull/puller.js'

export interface PeerServicesOptions extends PeerNodeOptions {
  /** Pull whatever team peers have and this library lacks (`serve --mirror`). */
  mirror?: boolean
  /** Serve the control socket, so that `fieldsync pull` in another process hands its work to this node. */
  control?: boolean
}

interface Step {
  start: () => Promise<void>
  stop: () => Promise<void>
}

export class PeerServices {
  readonly node: PeerNode
  readonly puller: Puller
  readonly mirror: Mirror | undefined
  readonly control: ControlServer | undefined
  private started: Step[] = []

  constructor(components: { library: Library; log: Logger }, opts: PeerServicesOptions) {
    const { library, log } = components
    this.node = new PeerNode({ library, log }, opts)
    this.puller = new Puller({ library, node: this.node, log })
    this.mirror = opts.mirror === true ? new Mirror({ library, node: this.node, puller: this.puller, log }) : undefined
    this.control = opts.control === true ? new ControlServer({ node: this.node, puller: this.puller, log }, { home: opts.home }) : undefined
  }

  /** The order of the header comment. */
  private steps(): Step[] {
    const steps: Array<Step | undefined> = [this.control, this.node, this.puller, this.mirror]
    return steps.filter((s): s is Step => s !== undefined)
  }

  async start(): Promise<void> {
    if (this.started.length > 0) return
    for (const step of this.steps()) {
      try {
        await step.start()
      } catch (err) {
        await this.stop()
        throw err
      }
      this.started.push(step)
    }
  }

  async stop(): Promise<void> {
    const started = this.started.reverse()
    this.started = []
    let first: unknown
    for (const step of started) {
      try {
        await step.stop()
      } catch (err) {
        first ??= err
      }
    }
    if (first !== undefined) throw first
  }
}

/** The LAN node with its puller (and mirror and control socket when asked for), not started: add it to the App, or start() it. */
export function createPeerServices(components: { library: Library; log: Logger }, opts: PeerServicesOptions): PeerServices {
  return new PeerServices(components, opts)
}
