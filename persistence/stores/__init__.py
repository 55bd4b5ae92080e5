"""One stateless store per domain; every method takes the connection first so the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from persistence.stores.account_data import AccountDataStore
from persistence.stores.admin_nonces import AdminNonceStore
from persistence.stores.aliases import AliasStore
from persistence.stores.cross_signing import CrossSigningStore
from persistence.stores.dehydrated_devices import DehydratedDeviceStore
from persistence.stores.device_inbox import DeviceInboxStore
from persistence.stores.device_lists import DeviceListStore
from persistence.stores.devices import DeviceStore
from persistence.stores.directory import DirectoryStore
from persistence.stores.e2e_keys import E2eKeyStore
from persistence.stores.event_expiry import EventExpiryStore
from persistence.stores.events import EventStore
from persistence.stores.filters import FilterStore
from persistence.stores.forgotten_rooms import ForgottenRoomStore
from persistence.stores.key_backups import KeyBackupStore
from persistence.stores.media import MediaStore
from persistence.stores.outbox import OutboxStore
from persistence.stores.presence import PresenceStore
from persistence.stores.processed_tasks import ProcessedTaskStore
from persistence.stores.profiles import ProfileStore
from persistence.stores.push_actions import PushActionsStore
from persistence.stores.push_rules import PushRulesStore
from persistence.stores.pushers import PusherStore
from persistence.stores.receipts import ReceiptStore
from persistence.stores.registration_tokens import RegistrationTokenStore
from persistence.stores.relations import RelationStore
from persistence.stores.reports import ReportStore
from persistence.stores.rooms import RoomStore
from persistence.stores.search import SearchStore
from persistence.stores.sent_members import SentMemberStore
from persistence.stores.server_keys import ServerKeyStore
from persistence.stores.shards import ShardStore
from persistence.stores.state import StateStore
from persistence.stores.tokens import TokenStore
from persistence.stores.typing_notifications import TypingStore
from persistence.stores.ui_auth import UiAuthStore
from persistence.stores.user_directory import UserDirectoryStore
from persistence.stores.users import UserStore
from persistence.stream_ids import StreamIds


@dataclass(frozen=True)
class Stores:
    users: UserStore = field(default_factory=UserStore)
    profiles: ProfileStore = field(default_factory=ProfileStore)
    devices: DeviceStore = field(default_factory=DeviceStore)
    tokens: TokenStore = field(default_factory=TokenStore)
    ui_auth: UiAuthStore = field(default_factory=UiAuthStore)
    registration_tokens: RegistrationTokenStore = field(default_factory=RegistrationTokenStore)
    admin_nonces: AdminNonceStore = field(default_factory=AdminNonceStore)
    outbox: OutboxStore = field(default_factory=OutboxStore)
    device_lists: DeviceListStore = field(default_factory=DeviceListStore)
    user_directory: UserDirectoryStore = field(default_factory=UserDirectoryStore)
    stream_ids: StreamIds = field(default_factory=StreamIds)
    rooms: RoomStore = field(default_factory=RoomStore)
    events: EventStore = field(default_factory=EventStore)
    state: StateStore = field(default_factory=StateStore)
    relations: RelationStore = field(default_factory=RelationStore)
    aliases: AliasStore = field(default_factory=AliasStore)
    directory: DirectoryStore = field(default_factory=DirectoryStore)
    forgotten_rooms: ForgottenRoomStore = field(default_factory=ForgottenRoomStore)
    reports: ReportStore = field(default_factory=ReportStore)
    search: SearchStore = field(default_factory=SearchStore)
    filters: FilterStore = field(default_factory=FilterStore)
    sent_members: SentMemberStore = field(default_factory=SentMemberStore)
    account_data: AccountDataStore = field(default_factory=AccountDataStore)
    device_inbox: DeviceInboxStore = field(default_factory=DeviceInboxStore)
    typing: TypingStore = field(default_factory=TypingStore)
    receipts: ReceiptStore = field(default_factory=ReceiptStore)
    presence: PresenceStore = field(default_factory=PresenceStore)
    push_rules: PushRulesStore = field(default_factory=PushRulesStore)
    push_actions: PushActionsStore = field(default_factory=PushActionsStore)
    e2e_keys: E2eKeyStore = field(default_factory=E2eKeyStore)
    cross_signing: CrossSigningStore = field(default_factory=CrossSigningStore)
    key_backups: KeyBackupStore = field(default_factory=KeyBackupStore)
    dehydrated_devices: DehydratedDeviceStore = field(default_factory=DehydratedDeviceStore)
    shards: ShardStore = field(default_factory=ShardStore)
    processed_tasks: ProcessedTaskStore = field(default_factory=ProcessedTaskStore)
    server_keys: ServerKeyStore = field(default_factory=ServerKeyStore)
    media: MediaStore = field(default_factory=MediaStore)
    pushers: PusherStore = field(default_factory=PusherStore)
    event_expiry: EventExpiryStore = field(default_factory=EventExpiryStore)
