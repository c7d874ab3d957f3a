namespace Laps.Scheduling.Collections;

/// <summary>
/// A scheduling priority, compared lexicographically; smaller runs first. <see cref="Level"/> is the queue
/// (strict priority between queues), <see cref="Primary"/> the order inside it (e.g. estimated remaining
/// seconds or attained service), <see cref="Secondary"/> breaks ties (arrival time), <see cref="Id"/> makes the
/// order total and therefore deterministic.
/// </summary>
public readonly record struct Priority(int Level, double Primary, double Secondary, long Id) : IComparable<Priority>
{
    public int CompareTo(Priority other)
    {
        if (Level != other.Level)
        {
            return Level < other.Level ? -1 : 1;
        }

        var c = Primary.CompareTo(other.Primary);
        if (c != 0)
        {
            return c;
        }

        c = Secondary.CompareTo(other.Secondary);
        return c != 0 ? c : Id.CompareTo(other.Id);
    }

    public static bool operator <(Priority left, Priority right) => left.CompareTo(right) < 0;
    public static bool operator >(Priority left, Priority right) => left.CompareTo(right) > 0;
    public static bool operator <=(Priority left, Priority right) => left.CompareTo(right) <= 0;
    public static bool operator >=(Priority left, Priority right) => left.CompareTo(right) >= 0;
}
