"""The Client-Server API blueprint: ``/_matrix/client/...``. Each module holds the views of one spec section."""

from __future__ import annotations

from flask import Blueprint


def create_client_blueprint() -> Blueprint:
    from web.client import (
        account,
        account_data,
        admin_whois,
        aliases,
        appservice_directory,
        appservice_ping,
        cross_signing,
        dehydrated_devices,
        devices,
        directory,
        email_unsubscribe,
        filters,
        key_backup,
        key_query,
        keys,
        legacy_events,
        legacy_sync,
        login,
        membership,
        messages,
        notifications,
        openid,
        presence,
        profile,
        push_rules,
        pushers,
        read_markers,
        receipts,
        register,
        relations,
        reports,
        room_upgrades,
        rooms,
        search,
        server_info,
        spaces,
        sync,
        thirdparty,
        to_device,
        typing_notifications,
        user_directory,
    )
    from web.sliding_sync import views as sliding_sync

    blueprint = Blueprint("client", __name__)
    for module in (server_info, register, login, account, devices, profile, rooms, membership, messages,
                   appservice_ping, relations, aliases, directory, spaces, room_upgrades, reports, search, filters,
                   sync, account_data, to_device, user_directory, legacy_sync, legacy_events, typing_notifications,
                   receipts, read_markers, presence, push_rules, notifications, pushers, keys, key_query,
                   cross_signing, key_backup, dehydrated_devices, thirdparty, appservice_directory, openid,
                   sliding_sync, admin_whois, email_unsubscribe):
        module.register_routes(blueprint)
    return blueprint
