#!/usr/bin/env node
/**
 * GridBot test gateway: a Wechaty puppet-service (gRPC, no TLS) on 127.0.0.1 that serves a
 * mock puppet with a fixed fixture world, driven by JSON lines on stdin, reporting JSON lines
 * on stdout. Logs go to stderr. See README.md in this folder for the protocol.
 *
 * Usage:
 *   node gateway.mjs [--port N] [--token T] [--world FILE] [--trace-rpc]
 * Environment (used when the flag is absent):
 *   GATEWAY_PORT, GATEWAY_TOKEN (or WECHATY_PUPPET_SERVICE_TOKEN), GATEWAY_WORLD,
 *   GATEWAY_TRACE_RPC=1, WECHATY_LOG (wechaty log level for stderr, default "warn")
 *
 * The process exits when stdin reaches EOF (so it never outlives the test process that
 * spawned it), on SIGTERM/SIGINT/SIGHUP, or on {"op":"shutdown"}.
 */
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import process from 'node:process'
import readline from 'node:readline'
import util from 'node:util'
import { fileURLToPath } from 'node:url'

// ---------------------------------------------------------------------------------------------
// 0. stdout is the control channel: nothing but protocol lines may reach it. brolog (wechaty's
//    logger) prints info/verbose through console.info, which Node sends to stdout, so every
//    console method is pointed at stderr BEFORE any wechaty module is loaded (they are imported
//    dynamically below for that reason).
// ---------------------------------------------------------------------------------------------
for (const method of ['log', 'info', 'debug', 'trace', 'dir']) {
  console[method] = (...args) => { process.stderr.write(util.format(...args) + '\n') }
}
if (!process.env.WECHATY_LOG) process.env.WECHATY_LOG = 'warn'
process.env.WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER = 'true'

const HOST = '127.0.0.1'
const HERE = path.dirname(fileURLToPath(import.meta.url))
const DEFAULT_WORLD = path.join(HERE, 'fixtures', 'default-world.json')
/** 1x1 transparent PNG, used when an "image" command gives no base64. */
const TINY_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='

// A broken stdout means the test process is gone: leave at once (no orphan gateway).
process.stdout.on('error', (e) => { process.exit(e.code === 'EPIPE' ? 0 : 1) })
process.stderr.on('error', () => {}) // logs are best effort

function emit (obj) {
  process.stdout.write(JSON.stringify({ ...obj, ts: Date.now() }) + '\n')
}
function logErr (...args) {
  process.stderr.write('[gateway] ' + util.format(...args) + '\n')
}

// ---------------------------------------------------------------------------------------------
// 1. Arguments
// ---------------------------------------------------------------------------------------------
function parseArgs (argv) {
  const opts = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value after ${arg}`)
      return argv[++i]
    }
    if (arg === '--port') opts.port = next()
    else if (arg === '--token') opts.token = next()
    else if (arg === '--world') opts.world = next()
    else if (arg === '--trace-rpc') opts.traceRpc = true
    else throw new Error(`unknown argument: ${arg}`)
  }
  return {
    port: Number(opts.port ?? process.env.GATEWAY_PORT ?? 0),
    token: opts.token ?? process.env.GATEWAY_TOKEN ?? process.env.WECHATY_PUPPET_SERVICE_TOKEN,
    world: opts.world ?? process.env.GATEWAY_WORLD ?? DEFAULT_WORLD,
    traceRpc: Boolean(opts.traceRpc || process.env.GATEWAY_TRACE_RPC === '1'),
  }
}

async function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, HOST, () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function fatal (message, code = 2) {
  emit({ event: 'error', fatal: true, error: String(message) })
  logErr('fatal:', message)
  process.exit(code)
}

let args
try {
  args = parseArgs(process.argv.slice(2))
} catch (e) {
  fatal(e.message)
}
if (!args.token) fatal('no token: pass --token or set GATEWAY_TOKEN / WECHATY_PUPPET_SERVICE_TOKEN')
if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) fatal(`bad port: ${args.port}`)

let spec
try {
  spec = JSON.parse(fs.readFileSync(args.world, 'utf8'))
} catch (e) {
  fatal(`cannot read world spec ${args.world}: ${e.message}`)
}

// ---------------------------------------------------------------------------------------------
// 2. wechaty modules (dynamic: see step 0)
// ---------------------------------------------------------------------------------------------
const PUPPET = await import('wechaty-puppet')
const { PuppetMock, mock } = await import('wechaty-puppet-mock')
const { PuppetServer } = await import('wechaty-puppet-service')
const { FileBox } = await import('file-box')
const { grpc } = await import('wechaty-grpc')

const MessageType = PUPPET.types.Message
const DirtyType = PUPPET.types.Dirty

function messageTypeForFile (name, mediaType) {
  const ext = path.extname(name || '').toLowerCase()
  if ((mediaType || '').startsWith('image/') || ['.jpg', '.jpeg', '.png', '.gif', '.webp', '.bmp'].includes(ext)) {
    return MessageType.Image
  }
  if ((mediaType || '').startsWith('video/') || ext === '.mp4') return MessageType.Video
  if (['.sil', '.silk', '.amr', '.mp3'].includes(ext)) return MessageType.Audio
  return MessageType.Attachment
}

// ---------------------------------------------------------------------------------------------
// 3. The puppet: PuppetMock with the flaws fixed (keeps mentionIdList, returns message ids,
//    real room topics/aliases, images readable by the Python SDK) and every bot send reported.
// ---------------------------------------------------------------------------------------------
let messageSeq = 0
const newMessageId = () => `gwmsg_${Date.now().toString(36)}_${++messageSeq}`

class GatewayPuppet extends PuppetMock {
  constructor (spec) {
    super({ mocker: new mock.Mocker() })
    this.spec = spec
    this.selfId = spec.self.id
    this.autoLogin = spec.autoLogin !== false
    this.echoSelf = spec.echoSelf !== false
    /** message id -> extra attachment data */
    this.urlPayloads = new Map()
    this.contactCards = new Map()
    this.announcements = new Map()
    this.roomAliases = new Map() // roomId -> Map(contactId -> alias)
  }

  // --- lifecycle -------------------------------------------------------------------------------
  async onStart () {
    await super.onStart()
    emit({ event: 'puppet', state: 'started' })
    if (this.autoLogin && !this.isLoggedIn) {
      setImmediate(() => this.doLogin())
    } else if (this.isLoggedIn) {
      // stop() emits `logout` but keeps currentUserId; re-announce readiness on a restart.
      setImmediate(() => this.emitReady())
    }
  }

  async onStop () {
    await super.onStop()
    emit({ event: 'puppet', state: 'stopped' })
  }

  doLogin () {
    if (this.isLoggedIn) throw new Error(`already logged in as ${this.currentUserId}`)
    this.login(this.selfId)
    setImmediate(() => this.emitReady())
  }

  /** `ready` now, and (via readyIndicator) replayed to an event stream that opens later. */
  emitReady () {
    this.readyIndicator.value(true)
    this.emit('ready', { data: 'ready' })
  }

  // --- helpers ---------------------------------------------------------------------------------
  roomPayloadOf (roomId) { return this.mocker.cacheRoomPayload.get(roomId) }
  contactPayloadOf (contactId) { return this.mocker.cacheContactPayload.get(contactId) }

  async dirty (type, id) {
    try { await this.dirtyPayload(type, id) } catch (e) { logErr('dirtyPayload failed:', e.message) }
  }

  /** Record a message the BOT sends: store it, report it on stdout, echo it to the SDK. */
  recordBotMessage (conversationId, fields, report) {
    if (!this.isLoggedIn) throw new Error('not logged in')
    const room = this.roomPayloadOf(conversationId)
    const contact = room ? undefined : this.contactPayloadOf(conversationId)
    if (!room && !contact) throw new Error(`unknown conversation id: ${conversationId}`)
    const payload = {
      id: newMessageId(),
      talkerId: this.currentUserId,
      timestamp: Date.now(),
      ...fields,
      ...(room ? { roomId: room.id, mentionIdList: fields.mentionIdList ?? [] } : { listenerId: contact.id }),
    }
    if (!room) delete payload.mentionIdList
    this.mocker.MessageMock.create(payload)
    emit({
      event: 'sent',
      message_id: payload.id,
      room: room ? room.topic : null,
      room_id: room ? room.id : null,
      to: room ? null : contact.id,
      text: payload.text ?? null,
      mentions: room ? [...payload.mentionIdList] : [],
      ...report,
    })
    if (this.echoSelf) this.emit('message', { messageId: payload.id })
    return payload.id
  }

  // --- sending (called by the SDK over gRPC) ----------------------------------------------------
  async messageSendText (conversationId, text, mentionIdList) {
    return this.recordBotMessage(
      conversationId,
      { type: MessageType.Text, text, mentionIdList: Array.isArray(mentionIdList) ? [...mentionIdList] : [] },
      { type: 'text' },
    )
  }

  async messageSendFile (conversationId, fileBox) {
    const json = fileBox.toJSON()
    const type = messageTypeForFile(fileBox.name, fileBox.mediaType)
    const id = this.recordBotMessage(conversationId, { type, filename: fileBox.name }, {
      type: type === MessageType.Image ? 'image' : 'file',
      file: {
        name: fileBox.name,
        size: fileBox.size,
        media_type: fileBox.mediaType,
        base64: json.base64 ?? null,
      },
    })
    this.mocker.cacheFileBoxPayload.set(id, json)
    return id
  }

  async messageSendUrl (conversationId, urlLinkPayload) {
    const id = this.recordBotMessage(conversationId, { type: MessageType.Url, text: urlLinkPayload.url },
      { type: 'url', url_link: urlLinkPayload })
    this.urlPayloads.set(id, urlLinkPayload)
    return id
  }

  async messageSendContact (conversationId, contactId) {
    const id = this.recordBotMessage(conversationId, { type: MessageType.Contact },
      { type: 'contact', contact_id: contactId })
    this.contactCards.set(id, contactId)
    return id
  }

  async messageSendMiniProgram (conversationId, miniProgramPayload) {
    return this.recordBotMessage(conversationId, { type: MessageType.MiniProgram },
      { type: 'mini_program', mini_program: miniProgramPayload })
  }

  async messageSendLocation (conversationId, locationPayload) {
    return this.recordBotMessage(conversationId, { type: MessageType.Location },
      { type: 'location', location: locationPayload })
  }

  // --- message attachments (read by the SDK) ---------------------------------------------------
  async messageImage (messageId, _imageType) {
    // The stock mock returns a fake QR code; return the image that was actually "sent".
    return this.messageFile(messageId)
  }

  async messageUrl (messageId) {
    const payload = this.urlPayloads.get(messageId)
    if (!payload) throw new Error(`no url link for message ${messageId}`)
    return payload
  }

  async messageContact (messageId) {
    return this.contactCards.get(messageId) ?? ''
  }

  // --- contacts ----------------------------------------------------------------------------------
  async contactAlias (contactId, alias) {
    const payload = this.contactPayloadOf(contactId)
    if (!payload) throw new Error(`unknown contact ${contactId}`)
    if (typeof alias === 'undefined') return payload.alias ?? ''
    payload.alias = alias
    await this.dirty(DirtyType.Contact, contactId)
  }

  async contactAvatar (contactId, file) {
    if (file) return
    return FileBox.fromBase64(TINY_PNG_BASE64, `${contactId}.png`)
  }

  // --- rooms -------------------------------------------------------------------------------------
  async roomTopic (roomId, topic) {
    const payload = this.roomPayloadOf(roomId)
    if (!payload) throw new Error(`unknown room ${roomId}`)
    if (typeof topic === 'undefined') return payload.topic
    world.changeTopic(payload.id, topic, this.currentUserId)
  }

  async roomAnnounce (roomId, text) {
    if (typeof text === 'undefined' || text === null || text === '') {
      return this.announcements.get(roomId) ?? ''
    }
    this.announcements.set(roomId, text)
  }

  async roomMemberRawPayload (roomId, contactId) {
    const contact = await this.contactPayload(contactId)
    return {
      avatar: contact.avatar,
      id: contactId,
      name: contact.name,
      roomAlias: this.roomAliases.get(roomId)?.get(contactId) ?? '',
    }
  }

  async roomAdd (roomId, contactId) {
    world.joinRoom(roomId, [contactId], this.currentUserId)
  }

  async roomDel (roomId, contactId) {
    world.leaveRoom(roomId, [contactId], this.currentUserId)
  }

  async roomCreate (contactIdList, topic) {
    const id = `${Date.now()}${++messageSeq}@chatroom`
    world.createRoom({ id, topic: topic ?? '', members: [this.currentUserId, ...contactIdList] })
    return id
  }
}

// ---------------------------------------------------------------------------------------------
// 4. The fixture world and the commands that act in it
// ---------------------------------------------------------------------------------------------
class World {
  constructor (spec, puppet) {
    this.spec = spec
    this.puppet = puppet
    this.mocker = puppet.mocker
  }

  build () {
    const self = this.spec.self
    if (!self || !self.id) throw new Error('world spec: "self" with an "id" is required')
    this.addContact(self)
    for (const c of this.spec.contacts ?? []) this.addContact(c)
    for (const r of this.spec.rooms ?? []) this.createRoom(r)
  }

  addContact (c) {
    if (!c.id || typeof c.id !== 'string') throw new Error(`contact without id: ${JSON.stringify(c)}`)
    if (this.mocker.cacheContactPayload.has(c.id)) throw new Error(`contact ${c.id} exists`)
    this.mocker.ContactMock.create({
      id: c.id,
      name: c.name ?? c.id,
      alias: c.alias,
      avatar: '',
      gender: PUPPET.types.ContactGender.Unknown,
      type: PUPPET.types.Contact.Individual,
      friend: c.friend !== false,
      phone: [],
      star: false,
      weixin: c.weixin ?? c.id,
    })
  }

  createRoom (r) {
    if (!r.id || !r.id.endsWith('@chatroom')) throw new Error(`room id must end with "@chatroom": ${r.id}`)
    if (this.mocker.cacheRoomPayload.has(r.id)) throw new Error(`room ${r.id} exists`)
    for (const m of r.members ?? []) this.contact(m)
    this.mocker.RoomMock.create({
      id: r.id,
      topic: r.topic ?? '',
      avatar: '',
      memberIdList: [...(r.members ?? [])],
      ownerId: r.owner,
      adminIdList: [...(r.admins ?? [])],
    })
    if (r.aliases) this.puppet.roomAliases.set(r.id, new Map(Object.entries(r.aliases)))
    if (r.announce) this.puppet.announcements.set(r.id, r.announce)
  }

  contact (id) {
    if (!this.mocker.cacheContactPayload.has(id)) throw new Error(`unknown contact: ${id}`)
    return this.mocker.ContactMock.load(id)
  }

  /** A room by id, or by its current topic (must be unique). */
  room (idOrTopic) {
    if (this.mocker.cacheRoomPayload.has(idOrTopic)) return this.mocker.RoomMock.load(idOrTopic)
    const hits = [...this.mocker.cacheRoomPayload.values()].filter(p => p.topic === idOrTopic)
    if (hits.length === 1) return this.mocker.RoomMock.load(hits[0].id)
    if (hits.length > 1) throw new Error(`room topic is ambiguous: ${idOrTopic}`)
    throw new Error(`unknown room: ${idOrTopic}`)
  }

  changeTopic (roomId, topic, byId) {
    const room = this.room(roomId)
    room.topic(topic).by(this.contact(byId)) // updates the payload in place, emits room-topic
    void this.puppet.dirty(DirtyType.Room, room.id)
  }

  joinRoom (roomId, memberIds, byId) {
    const room = this.room(roomId)
    const fresh = memberIds.filter(m => !room.payload.memberIdList.includes(m))
    room.add(...fresh.map(m => this.contact(m))).by(this.contact(byId))
    void this.puppet.dirty(DirtyType.Room, room.id)
    void this.puppet.dirty(DirtyType.RoomMember, room.id)
  }

  leaveRoom (roomId, memberIds, byId) {
    const room = this.room(roomId)
    room.remove(...memberIds.map(m => this.contact(m))).by(this.contact(byId))
    void this.puppet.dirty(DirtyType.Room, room.id)
    void this.puppet.dirty(DirtyType.RoomMember, room.id)
  }

  /** A message from a contact (not the bot) to a room or a contact. */
  inject (cmd, fields) {
    if (!cmd.from) throw new Error('"from" is required')
    const talker = this.contact(cmd.from)
    const base = {
      id: newMessageId(),
      talkerId: talker.id,
      timestamp: typeof cmd.timestamp === 'number' ? cmd.timestamp : Date.now(),
      ...fields,
    }
    let payload
    if (cmd.room) {
      const room = this.room(cmd.room)
      if (!room.payload.memberIdList.includes(talker.id)) {
        throw new Error(`${talker.id} is not a member of ${room.payload.topic}`)
      }
      const mentions = cmd.mentions ?? []
      for (const m of mentions) this.contact(m)
      payload = { ...base, roomId: room.id, mentionIdList: [...mentions] }
    } else {
      const to = cmd.to ?? this.puppet.selfId
      this.contact(to)
      payload = { ...base, listenerId: to }
    }
    this.mocker.MessageMock.create(payload)
    this.puppet.emit('message', { messageId: payload.id })
    return payload
  }

  snapshot () {
    return {
      self: this.puppet.selfId,
      logged_in: this.puppet.isLoggedIn,
      clients: clientStreams,
      contacts: [...this.mocker.cacheContactPayload.values()].map(c => ({ id: c.id, name: c.name, alias: c.alias ?? null })),
      rooms: [...this.mocker.cacheRoomPayload.values()].map(r => ({
        id: r.id, topic: r.topic, members: [...r.memberIdList], owner: r.ownerId ?? null, admins: [...(r.adminIdList ?? [])],
      })),
    }
  }
}

const puppet = new GatewayPuppet(spec)
const world = new World(spec, puppet)
try {
  world.build()
} catch (e) {
  fatal(`bad world spec: ${e.message}`)
}

const COMMANDS = {
  ping: () => ({}),
  state: () => world.snapshot(),
  say: (cmd) => {
    if (typeof cmd.text !== 'string') throw new Error('"text" (string) is required')
    const p = world.inject(cmd, { type: MessageType.Text, text: cmd.text })
    return { message_id: p.id }
  },
  image: (cmd) => {
    const name = cmd.name ?? 'photo.png'
    const fileBox = FileBox.fromBase64(cmd.base64 ?? TINY_PNG_BASE64, name)
    const p = world.inject(cmd, { type: messageTypeForFile(name), filename: name })
    world.mocker.cacheFileBoxPayload.set(p.id, fileBox.toJSON())
    return { message_id: p.id }
  },
  file: (cmd) => {
    if (!cmd.name || !cmd.base64) throw new Error('"name" and "base64" are required')
    const fileBox = FileBox.fromBase64(cmd.base64, cmd.name)
    const p = world.inject(cmd, { type: messageTypeForFile(cmd.name, cmd.media_type), filename: cmd.name })
    world.mocker.cacheFileBoxPayload.set(p.id, fileBox.toJSON())
    return { message_id: p.id }
  },
  url: (cmd) => {
    if (!cmd.url || !cmd.title) throw new Error('"url" and "title" are required')
    const link = { url: cmd.url, title: cmd.title }
    if (cmd.description) link.description = cmd.description
    if (cmd.thumbnail_url) link.thumbnailUrl = cmd.thumbnail_url
    const p = world.inject(cmd, { type: MessageType.Url, text: cmd.url })
    puppet.urlPayloads.set(p.id, link)
    return { message_id: p.id }
  },
  topic: (cmd) => {
    if (!cmd.room || typeof cmd.topic !== 'string') throw new Error('"room" and "topic" are required')
    const room = world.room(cmd.room)
    world.changeTopic(room.id, cmd.topic, cmd.by ?? room.payload.ownerId ?? puppet.selfId)
    return { room_id: room.id, topic: cmd.topic }
  },
  join: (cmd) => {
    const room = world.room(cmd.room)
    world.joinRoom(room.id, cmd.members ?? [], cmd.by ?? room.payload.ownerId ?? puppet.selfId)
    return { room_id: room.id, members: [...room.payload.memberIdList] }
  },
  leave: (cmd) => {
    const room = world.room(cmd.room)
    world.leaveRoom(room.id, cmd.members ?? [], cmd.by ?? room.payload.ownerId ?? puppet.selfId)
    return { room_id: room.id, members: [...room.payload.memberIdList] }
  },
  contact: (cmd) => {
    world.addContact({ id: cmd.id, name: cmd.name, alias: cmd.alias })
    return { contact_id: cmd.id }
  },
  login: () => {
    puppet.doLogin()
    return { contact_id: puppet.selfId }
  },
  logout: async (cmd) => {
    await puppet.logout(cmd.reason ?? 'logout by test')
    return {}
  },
  shutdown: () => {
    setImmediate(() => shutdown('shutdown command'))
    return {}
  },
}

// ---------------------------------------------------------------------------------------------
// 5. gRPC: observe every PuppetService call (auth result, event-stream connect/disconnect)
//    by wrapping grpc.Server#addService before PuppetServer registers its implementation.
// ---------------------------------------------------------------------------------------------
let clientStreams = 0
const originalAddService = grpc.Server.prototype.addService
grpc.Server.prototype.addService = function (service, implementation) {
  if (!('messageSendText' in implementation)) {
    return originalAddService.call(this, service, implementation) // the health service
  }
  const wrapped = {}
  for (const [method, handler] of Object.entries(implementation)) {
    wrapped[method] = function (call, callback) {
      const authorization = call.metadata?.get('authorization')?.[0]
      const authorized = authorization === `Wechaty ${args.token}`
      if (args.traceRpc) emit({ event: 'rpc', method, authorized })
      if (!authorized) {
        emit({
          event: 'auth_failed',
          method,
          reason: typeof authorization === 'string' ? 'invalid token' : 'no authorization',
        })
      }
      if (!authorized || method !== 'event') return handler.call(this, call, callback)

      let rejected = false
      const onEarlyError = () => { rejected = true }
      call.once('error', onEarlyError)
      const result = handler.call(this, call, callback)
      call.off('error', onEarlyError)
      if (rejected) {
        emit({ event: 'client', state: 'rejected', reason: 'event stream already open' })
        return result
      }
      clientStreams += 1
      emit({ event: 'client', state: 'connected' })
      let closed = false
      for (const ev of ['cancelled', 'close', 'finish', 'error']) {
        call.once(ev, () => {
          if (closed) return
          closed = true
          clientStreams -= 1
          emit({ event: 'client', state: 'disconnected', reason: ev })
        })
      }
      return result
    }
  }
  return originalAddService.call(this, service, wrapped)
}

// Bot-side puppet events, reported for the tests' benefit.
puppet.on('login', ({ contactId }) => emit({ event: 'login', contact_id: contactId }))
puppet.on('logout', ({ contactId, data }) => emit({ event: 'logout', contact_id: contactId, reason: data ?? null }))

// ---------------------------------------------------------------------------------------------
// 6. Start, control loop, shutdown
// ---------------------------------------------------------------------------------------------
const port = args.port || await freePort()
const server = new PuppetServer({
  endpoint: `${HOST}:${port}`,
  puppet,
  token: args.token,
  tls: { disable: true },
})

let stopping = false
async function shutdown (reason, code = 0) {
  if (stopping) return
  stopping = true
  logErr('shutting down:', reason)
  const hardExit = setTimeout(() => process.exit(code), 3000)
  hardExit.unref()
  try { await server.stop() } catch (e) { logErr('server.stop failed:', e.message) }
  try {
    if (puppet.state?.active?.()) await puppet.stop()
  } catch (e) { logErr('puppet.stop failed:', e.message) }
  emit({ event: 'stopped', reason })
  process.exit(code)
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => shutdown(sig))
process.on('uncaughtException', (e) => {
  logErr('uncaughtException:', e.stack || e)
  emit({ event: 'error', error: `uncaught: ${e.message}` })
})
process.on('unhandledRejection', (e) => {
  logErr('unhandledRejection:', e?.stack || e)
  emit({ event: 'error', error: `unhandled rejection: ${e?.message ?? e}` })
})

try {
  await server.start()
} catch (e) {
  fatal(`cannot listen on ${HOST}:${port}: ${e.message}`, 3)
}
emit({ event: 'ready', port, host: HOST, pid: process.pid, self: puppet.selfId })

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
let queue = Promise.resolve() // commands run one at a time, in the order they arrive

async function runCommand (line) {
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (e) {
    emit({ event: 'error', error: `invalid JSON: ${e.message}`, line })
    return
  }
  if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) {
    emit({ event: 'error', error: 'a command must be a JSON object', line })
    return
  }
  const req = cmd.req ?? null
  const handler = Object.hasOwn(COMMANDS, cmd.op) ? COMMANDS[cmd.op] : undefined
  if (!handler) {
    emit({ event: 'error', op: cmd.op ?? null, req, error: `unknown op: ${cmd.op}` })
    return
  }
  try {
    const result = await handler(cmd)
    emit({ event: 'ok', op: cmd.op, req, ...result })
  } catch (e) {
    emit({ event: 'error', op: cmd.op, req, error: e.message })
  }
}

rl.on('line', (line) => {
  if (!line.trim()) return
  queue = queue.then(() => runCommand(line))
})
rl.on('close', () => { queue.then(() => shutdown('stdin closed')) })
