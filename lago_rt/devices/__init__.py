"""Simulated devices for the real-time node: the toy locker simulator (``lago locker-sim``)."""

from lago_rt.devices.sim import DeviceState, LockerSim, SimSlot

__all__ = ["DeviceState", "LockerSim", "SimSlot"]
